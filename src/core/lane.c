/*
 * lane.c - bounded low-priority worker threads (see lane.h).
 *
 * Jobs live on their callers' stacks: a caller queues its job and sleeps on
 * the job's own condition variable until a thread has run it.
 */
#include "core/lane.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/mem.h"

#define LANE_NICE 10

struct job {
	void (*fn)(void *arg);
	void *arg;
	bool done;
	pthread_cond_t cv;
	struct job *next;
};

struct lane {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct job *head, *tail;
	size_t queued, queue_max;
	bool stopping;
	int nthreads;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct lane *l = arg;
	/* Linux applies nice to one thread when given its id. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), LANE_NICE);
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->head && !l->stopping)
			pthread_cond_wait(&l->work, &l->mu);
		struct job *j = l->head;
		if (!j)
			break;
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->queued--;
		pthread_mutex_unlock(&l->mu);
		j->fn(j->arg);
		pthread_mutex_lock(&l->mu);
		j->done = true;
		pthread_cond_signal(&j->cv);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

struct lane *lane_new(int threads, size_t queue_max)
{
	struct lane *l = xcalloc(1, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->work, NULL);
	l->queue_max = queue_max;
	l->nthreads = threads;
	l->threads = xcalloc((size_t)threads, sizeof(*l->threads));
	for (int i = 0; i < threads; i++)
		if (pthread_create(&l->threads[i], NULL, worker, l) != 0) {
			fputs("vault: cannot start a thread\n", stderr);
			abort();
		}
	return l;
}

void lane_free(struct lane *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stopping = true;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; i < l->nthreads; i++)
		pthread_join(l->threads[i], NULL);
	pthread_cond_destroy(&l->work);
	pthread_mutex_destroy(&l->mu);
	free(l->threads);
	free(l);
}

enum verr lane_run(struct lane *l, void (*fn)(void *arg), void *arg)
{
	struct job j = {.fn = fn, .arg = arg};
	pthread_mutex_lock(&l->mu);
	if (l->queued >= l->queue_max) {
		pthread_mutex_unlock(&l->mu);
		return VERR_UNAVAILABLE;
	}
	pthread_cond_init(&j.cv, NULL);
	if (l->tail)
		l->tail->next = &j;
	else
		l->head = &j;
	l->tail = &j;
	l->queued++;
	pthread_cond_signal(&l->work);
	while (!j.done)
		pthread_cond_wait(&j.cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
	pthread_cond_destroy(&j.cv);
	return VERR_OK;
}
