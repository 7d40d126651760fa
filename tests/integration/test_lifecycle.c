/*
 * test_lifecycle.c - the process as a whole: SIGTERM and SIGINT finish
 * in-flight work and exit 0, acknowledged notes survive a graceful stop and
 * a SIGKILL, and slow bcrypt logins do not hold up other requests.
 */
#include "integration/harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static struct server srv;
static struct it_user me;

static void cleanup(void)
{
	user_free(&me);
	server_cleanup(&srv);
}

TestSuite(lifecycle, .fini = cleanup, .timeout = IT_TIMEOUT(90));

/* ------------------------------------------------------------------ */
/* Writers that create notes until the server goes away. */

#define MAX_ACKS 20000

struct acked {
	long long id;
	char title[48];
};

struct writers {
	const char *base_url;
	const char *token;
	pthread_mutex_t lock;
	struct acked acks[MAX_ACKS];
	atomic_int nacks;
	atomic_int n500;
	atomic_int nother; /* neither 201 nor a transfer failure */
	atomic_bool stop;
	int max_per_thread;
};

struct writer_arg {
	struct writers *w;
	int index;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;
	struct writers *w = a->w;
	for (int i = 0; i < w->max_per_thread && !atomic_load(&w->stop); i++) {
		char title[48];
		snprintf(title, sizeof(title), "w%d-n%d", a->index, i);
		char *body = it_asprintf("{\"title\":\"%s\",\"content\":\"c\"}", title);
		struct http_req q = {.method = "POST",
		                     .path = "/api/v1/notes",
		                     .token = w->token,
		                     .body = body,
		                     .body_len = strlen(body),
		                     .timeout_ms = 15000};
		struct http_resp r;
		int rc = http_do(w->base_url, &q, &r);
		free(body);
		if (rc != 0) { /* the server is gone (or going): stop */
			http_resp_free(&r);
			break;
		}
		if (r.status == 201 && json_is_integer(json_object_get(r.json, "id"))) {
			pthread_mutex_lock(&w->lock);
			int k = atomic_load(&w->nacks);
			if (k < MAX_ACKS) {
				w->acks[k].id =
				    (long long)json_integer_value(json_object_get(r.json, "id"));
				snprintf(w->acks[k].title, sizeof(w->acks[k].title), "%s", title);
				atomic_store(&w->nacks, k + 1);
			}
			pthread_mutex_unlock(&w->lock);
		} else if (r.status >= 500 && r.status != 503) {
			atomic_fetch_add(&w->n500, 1);
		} else if (r.status != 503) {
			atomic_fetch_add(&w->nother, 1);
		}
		http_resp_free(&r);
	}
	return NULL;
}

/* Every acknowledged note is in the user's list with its title. */
static void expect_all_acked_present(struct writers *w)
{
	json_t *seen = json_object();
	for (int skip = 0;; skip += 100) {
		char path[96];
		snprintf(path, sizeof(path), "/api/v1/notes?limit=100&skip=%d", skip);
		struct http_resp r;
		cr_assert_eq(api(&srv, "GET", path, me.access, NULL, &r), 200, "%s: %d %s", path,
		             r.status, r.body);
		json_t *items = json_object_get(r.json, "items");
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			char key[32];
			snprintf(key, sizeof(key), "%lld",
			         (long long)json_integer_value(json_object_get(it, "id")));
			json_object_set(seen, key, json_object_get(it, "title"));
		}
		size_t n = json_array_size(items);
		http_resp_free(&r);
		if (n < 100)
			break;
	}
	int missing = 0;
	int n = atomic_load(&w->nacks);
	for (int k = 0; k < n; k++) {
		char key[32];
		snprintf(key, sizeof(key), "%lld", w->acks[k].id);
		json_t *t = json_object_get(seen, key);
		if (!t || strcmp(json_string_value(t), w->acks[k].title) != 0) {
			if (missing < 10)
				cr_log_error("acknowledged note %lld (%s) lost", w->acks[k].id,
				             w->acks[k].title);
			missing++;
		}
	}
	cr_assert_eq(missing, 0, "%d of %d acknowledged notes lost", missing, n);
	json_decref(seen);
}

Test(lifecycle, sigterm_with_creates_in_flight_loses_nothing)
{
	server_start(&srv, NULL);
	user_new(&srv, &me);
	enum { THREADS = 8 };
	static struct writers w;
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	w.base_url = srv.base_url;
	w.token = me.access;
	w.max_per_thread = 2000;
	struct writer_arg args[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct writer_arg){.w = &w, .index = i};
		pthread_create(&th[i], NULL, writer, &args[i]);
	}
	/* Let the writers get going, then pull the plug while requests are in flight. */
	double deadline = it_now_ms() + 10000;
	while (atomic_load(&w.nacks) < 80 && it_now_ms() < deadline)
		it_sleep_ms(1);
	int before_term = atomic_load(&w.nacks);
	server_signal(&srv, SIGTERM);
	int st = server_wait(&srv, STOP_TIMEOUT_MS);
	atomic_store(&w.stop, true);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	char *tail = server_log_tail(&srv);
	cr_assert(before_term >= 80, "writers got only %d notes acknowledged in 10 s\n%s",
	          before_term, tail);
	cr_assert_neq(st, -1, "server still running %d ms after SIGTERM\n%s", STOP_TIMEOUT_MS,
	              tail);
	cr_assert_eq(st, 0, "exit status %d after SIGTERM under load\n%s", st, tail);
	cr_assert_eq(atomic_load(&w.n500), 0, "%d creates answered 5xx during shutdown",
	             atomic_load(&w.n500));
	cr_assert_eq(atomic_load(&w.nother), 0, "%d creates got an unexpected status",
	             atomic_load(&w.nother));
	char *log = server_log(&srv);
	cr_assert(strstr(log, "\"server_stopped\""), "no server_stopped event\n%s", tail);
	free(log);
	free(tail);

	server_restart(&srv);
	expect_all_acked_present(&w);
	server_stop_ok(&srv);
	pthread_mutex_destroy(&w.lock);
}

Test(lifecycle, sigint_exits_zero)
{
	server_start(&srv, NULL);
	struct http_resp r;
	cr_assert_eq(http(&srv, "GET", "/health", NULL, NULL, &r), 200);
	http_resp_free(&r);
	server_signal(&srv, SIGINT);
	int st = server_wait(&srv, STOP_TIMEOUT_MS);
	char *tail = server_log_tail(&srv);
	cr_assert_eq(st, 0, "exit status %d after SIGINT (-1: still running)\n%s", st, tail);
	cr_assert(strstr(tail, "\"server_stopped\""), "no server_stopped after SIGINT\n%s", tail);
	free(tail);
}

/* SIGTERM while migrations run (before the HTTP server and its threads exist): the server
 * finishes starting, then stops cleanly, instead of dying of the signal on whichever thread
 * a library had started before main. */
Test(lifecycle, sigterm_during_startup_stops_cleanly)
{
	static const char *const args[] = {"serve", NULL};
	process_start(&srv, NULL, args, "migration");
	server_signal(&srv, SIGTERM);
	int st = server_wait(&srv, STOP_TIMEOUT_MS);
	char *tail = server_log_tail(&srv);
	cr_assert_eq(st, 0, "exit status %d after SIGTERM at start-up (-1: still running)\n%s", st,
	             tail);
	cr_assert(strstr(tail, "\"shutdown_started\"") && strstr(tail, "\"server_stopped\""),
	          "no shutdown_started and server_stopped after SIGTERM at start-up\n%s", tail);
	free(tail);
}

Test(lifecycle, sigterm_does_not_wait_for_idle_clients)
{
	server_start(&srv, NULL); /* IDLE_TIMEOUT_SECONDS stays at its default of 30 */
	/* One connection that never spoke, one idle after a keep-alive request. */
	int silent = tcp_connect(&srv);
	int kept = tcp_connect(&srv);
	cr_assert(silent >= 0 && kept >= 0);
	const char req[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	tcp_send_all(kept, req, sizeof(req) - 1);
	char buf[2048];
	bool closed;
	cr_assert_eq(tcp_read_head(kept, buf, sizeof(buf), 2000, &closed), 200, "%.80s", buf);
	double t0 = it_now_ms();
	server_signal(&srv, SIGTERM);
	int st = server_wait(&srv, STOP_TIMEOUT_MS);
	double took = it_now_ms() - t0;
	close(silent);
	close(kept);
	char *tail = server_log_tail(&srv);
	cr_assert_neq(st, -1, "still running %.0f ms after SIGTERM with two idle clients\n%s", took,
	              tail);
	cr_assert_eq(st, 0, "exit status %d\n%s", st, tail);
	cr_assert(took < 5000, "SIGTERM took %.0f ms with idle clients connected", took);
	free(tail);
}

/* A process crash only: the kernel keeps what was written but not synced. test_durability.c
 * cuts the power. */
Test(lifecycle, sigkill_keeps_acknowledged_notes)
{
	server_start(&srv, NULL);
	user_new(&srv, &me);
	static struct writers w;
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	w.base_url = srv.base_url;
	w.token = me.access;
	w.max_per_thread = 25;
	enum { THREADS = 4 };
	struct writer_arg args[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct writer_arg){.w = &w, .index = i};
		pthread_create(&th[i], NULL, writer, &args[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&w.nacks), THREADS * 25, "only %d of %d creates acknowledged",
	             atomic_load(&w.nacks), THREADS * 25);
	/* An update and a delete acknowledged just before the kill count as well. */
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", w.acks[0].id);
	struct http_resp r;
	cr_assert_eq(api(&srv, "PUT", path, me.access, "{\"title\":\"renamed\"}", &r), 200);
	http_resp_free(&r);
	snprintf(w.acks[0].title, sizeof(w.acks[0].title), "renamed");
	/* Killed right after the last acknowledgement: no chance to flush anything. */
	long long last = note_create(&srv, me.access, "{\"title\":\"last\"}");
	server_kill9(&srv);
	w.acks[atomic_load(&w.nacks)].id = last;
	snprintf(w.acks[atomic_load(&w.nacks)].title, sizeof(w.acks[0].title), "last");
	atomic_fetch_add(&w.nacks, 1);

	server_restart(&srv);
	expect_all_acked_present(&w);
	server_stop_ok(&srv);
	pthread_mutex_destroy(&w.lock);
}

/* ------------------------------------------------------------------ */
/* Slow logins */

static const char *const bcrypt12_env[] = {"BCRYPT_ROUNDS=12", NULL};

struct login_arg {
	const char *base_url;
	const char *body;
	int status;
	double elapsed_ms;
	double done_at;
};

static void *login_thread(void *p)
{
	struct login_arg *a = p;
	struct http_req q = {.method = "POST",
	                     .path = "/api/v1/auth/login",
	                     .body = a->body,
	                     .body_len = strlen(a->body),
	                     .timeout_ms = 60000};
	struct http_resp r;
	http_do(a->base_url, &q, &r);
	a->status = r.status;
	a->elapsed_ms = r.elapsed_ms;
	a->done_at = it_now_ms();
	http_resp_free(&r);
	return NULL;
}

/* Starts n logins in threads and waits until the server holds their connections. */
static void start_logins(struct login_arg *args, pthread_t *th, int n, const char *body,
                         int base_sockets, double max_wait_ms)
{
	for (int i = 0; i < n; i++) {
		args[i] = (struct login_arg){.base_url = srv.base_url, .body = body};
		pthread_create(&th[i], NULL, login_thread, &args[i]);
	}
	double deadline = it_now_ms() + max_wait_ms;
	while (server_socket_count(&srv) < base_sockets + n && it_now_ms() < deadline)
		it_sleep_ms(1);
}

Test(lifecycle, slow_logins_do_not_block_other_requests)
{
	server_start(&srv, bcrypt12_env);
	user_new(&srv, &me);
	long long note = note_create(&srv, me.access, "{\"title\":\"prompt\"}");
	char *body = it_jpack("{s:s, s:s}", "email", me.email, "password", me.password);

	/* What one login costs on this machine, right now. */
	struct http_resp r;
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/login", NULL, body, &r), 200);
	double one_login = r.elapsed_ms;
	http_resp_free(&r);
	cr_assert_eq(note_get(&srv, me.access, note, &r), 200);
	double idle_get = r.elapsed_ms;
	http_resp_free(&r);
	cr_assert(one_login > 4 * idle_get + 20,
	          "a bcrypt-12 login (%.1f ms) is not clearly slower than a GET (%.1f ms): "
	          "is BCRYPT_ROUNDS honoured?",
	          one_login, idle_get);

	enum { N = 8 };
	struct login_arg args[N];
	pthread_t th[N];
	int base = server_socket_count(&srv);
	double t0 = it_now_ms();
	start_logins(args, th, N, body, base, one_login / 2);
	double waited = it_now_ms() - t0;

	cr_assert_eq(note_get(&srv, me.access, note, &r), 200);
	double busy_get = r.elapsed_ms;
	double get_done = it_now_ms();
	http_resp_free(&r);
	int ok = 0, finished_before_get = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		ok += args[i].status == 200;
		finished_before_get += args[i].done_at <= get_done;
	}
	cr_assert_eq(ok, N, "%d of %d concurrent logins succeeded", ok, N);
	cr_assert(finished_before_get < N,
	          "all logins finished before the GET: the test did not overlap them "
	          "(waited %.0f ms)",
	          waited);
	cr_assert(busy_get < one_login / 2,
	          "GET took %.1f ms with %d logins in flight; one login takes %.1f ms "
	          "(idle GET %.1f ms): slow logins block other requests",
	          busy_get, N, one_login, idle_get);
	free(body);
	server_stop_ok(&srv);
}

/* The server's e-mail lookups so far (DATABASE_ECHO): a login makes one once its body is in. */
static int email_lookups(void)
{
	char *log = server_log(&srv);
	int n = 0;
	for (const char *p = log; (p = strstr(p, "FROM users WHERE email")); p++)
		n++;
	free(log);
	return n;
}

Test(lifecycle, sigterm_finishes_logins_in_flight)
{
	server_start(&srv, (const char *const[]){"BCRYPT_ROUNDS=12", "DATABASE_ECHO=true", NULL});
	user_new(&srv, &me);
	char *body = it_jpack("{s:s, s:s}", "email", me.email, "password", me.password);
	struct http_resp r;
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/login", NULL, body, &r), 200);
	double one_login = r.elapsed_ms;
	http_resp_free(&r);

	enum { N = 3 };
	struct login_arg args[N];
	pthread_t th[N];
	int base = server_socket_count(&srv), looked_up = email_lookups();
	start_logins(args, th, N, body, base, one_login / 2);
	/* Every request read and at its lookup, so in flight, however slow the
	 * build; the bcrypt that follows keeps them there. */
	double deadline = it_now_ms() + HTTP_TIMEOUT_MS;
	while (email_lookups() < looked_up + N && it_now_ms() < deadline)
		it_sleep_ms(1);
	double term_at = it_now_ms();
	server_signal(&srv, SIGTERM);
	int st = server_wait(&srv, STOP_TIMEOUT_MS);
	int ok = 0, done_before_term = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		ok += args[i].status == 200;
		done_before_term += args[i].done_at < term_at;
	}
	char *tail = server_log_tail(&srv);
	cr_assert_eq(st, 0, "exit status %d after SIGTERM with logins in flight\n%s", st, tail);
	cr_assert(done_before_term < N,
	          "the logins finished before SIGTERM; nothing was in flight");
	cr_assert_eq(
	    ok, N, "%d of %d in-flight logins answered 200 across SIGTERM (statuses %d %d %d)\n%s",
	    ok, N, args[0].status, args[1].status, args[2].status, tail);
	free(tail);
	free(body);
}
