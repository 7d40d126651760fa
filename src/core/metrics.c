/*
 * metrics.c - the process's metrics registry and its Prometheus text
 * rendering (see metrics.h).
 *
 * Every series is a slot of one fixed array under one mutex: a request
 * takes the lock once, as long as a few comparisons, which is nothing next
 * to the log line it also writes. Labels are pointers to the callers'
 * static strings plus an HTTP status, so a series is found by comparing
 * them. MAX_SERIES bounds memory; the label sets vault makes (about 30
 * routes and labels, 6 methods, 20 statuses in use) stay far below it, and
 * a series past it is dropped rather than grown into.
 */
#include "core/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"

#define MAX_SERIES 1024
#define NBUCKETS   11

/* Upper bounds of the latency buckets, in seconds (+Inf is implicit). */
static const double buckets[NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

enum family {
	F_REQUESTS,         /* counter {route, method, status} */
	F_REQUEST_SECONDS,  /* histogram {route, method} */
	F_PROVIDER_CALLS,   /* counter {provider, operation, outcome} */
	F_PROVIDER_SECONDS, /* histogram {provider, operation} */
	F_EMBED_CHUNKS,     /* counter {outcome} */
	NFAMILIES,
};

static const struct {
	const char *name, *type, *help, *labels[3];
} families[NFAMILIES] = {
    [F_REQUESTS] = {"vault_http_requests_total",
                    "counter",
                    "HTTP requests answered, by route template, method and status.",
                    {"route", "method", "status"}},
    [F_REQUEST_SECONDS] = {"vault_http_request_duration_seconds",
                           "histogram",
                           "Time from a request's headers to its answer, by route template.",
                           {"route", "method"}},
    [F_PROVIDER_CALLS] = {"vault_provider_calls_total",
                          "counter",
                          "Calls to the AI providers, by provider, operation and outcome.",
                          {"provider", "operation", "outcome"}},
    [F_PROVIDER_SECONDS] = {"vault_provider_call_duration_seconds",
                            "histogram",
                            "Time AI provider calls took, retries included.",
                            {"provider", "operation"}},
    [F_EMBED_CHUNKS] = {"vault_embed_chunks_total",
                        "counter",
                        "Chunks the embedding worker of this process embedded or failed to.",
                        {"outcome"}},
};

struct series {
	enum family family;
	const char *label[3]; /* static strings; status goes in label 2 as a number */
	int status;
	double value; /* a counter's count; a histogram's sum */
	unsigned long long count, bucket[NBUCKETS];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct series series[MAX_SERIES];
static size_t nseries;
static atomic_int in_flight;

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The series of family with these labels, made if new; NULL when full. Under mu. */
static struct series *find(enum family f, const char *a, const char *b, const char *c, int status)
{
	for (size_t i = 0; i < nseries; i++) {
		struct series *s = &series[i];
		if (s->family == f && s->status == status && same(s->label[0], a) &&
		    same(s->label[1], b) && same(s->label[2], c))
			return s;
	}
	if (nseries == MAX_SERIES)
		return NULL;
	struct series *s = &series[nseries++];
	*s = (struct series){.family = f, .label = {a, b, c}, .status = status};
	return s;
}

static void observe(struct series *s, double seconds)
{
	if (!s)
		return;
	s->value += seconds;
	s->count++;
	for (int i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			s->bucket[i]++;
}

static void count(struct series *s, double n)
{
	if (s)
		s->value += n;
}

/* The method as a label: one of those vault answers, anything else "other". */
static const char *method_label(const char *m)
{
	static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (m && strcmp(m, known[i]) == 0)
			return known[i];
	return "other";
}

void metrics_request(const char *route, const char *method, int status, double seconds)
{
	const char *m = method_label(method);
	pthread_mutex_lock(&mu);
	count(find(F_REQUESTS, route, m, NULL, status), 1);
	observe(find(F_REQUEST_SECONDS, route, m, NULL, 0), seconds);
	pthread_mutex_unlock(&mu);
}

void metrics_in_flight(int delta)
{
	atomic_fetch_add(&in_flight, delta);
}

void metrics_provider_call(const char *provider, const char *operation, bool ok, double seconds)
{
	pthread_mutex_lock(&mu);
	count(find(F_PROVIDER_CALLS, provider, operation, ok ? "ok" : "error", 0), 1);
	observe(find(F_PROVIDER_SECONDS, provider, operation, NULL, 0), seconds);
	pthread_mutex_unlock(&mu);
}

void metrics_embed_chunks(size_t n, bool ok)
{
	pthread_mutex_lock(&mu);
	count(find(F_EMBED_CHUNKS, ok ? "embedded" : "failed", NULL, NULL, 0), (double)n);
	pthread_mutex_unlock(&mu);
}

/* {a="x",b="y"} of s, with extra (le="0.5") last if given. Label values are ours: no escaping. */
static void labels(struct buf *b, const struct series *s, const char *extra)
{
	const char *const *names = families[s->family].labels;
	const char *sep = "{";
	for (int i = 0; i < 3 && names[i]; i++) {
		if (s->family == F_REQUESTS && i == 2)
			buf_printf(b, "%s%s=\"%d\"", sep, names[i], s->status);
		else
			buf_printf(b, "%s%s=\"%s\"", sep, names[i], s->label[i]);
		sep = ",";
	}
	if (extra)
		buf_printf(b, "%s%s", sep, extra);
	buf_adds(b, "}"); /* every family has labels */
}

static void render_series(struct buf *b, const struct series *s)
{
	const char *name = families[s->family].name;
	if (strcmp(families[s->family].type, "counter") != 0) {
		char le[32];
		for (int i = 0; i < NBUCKETS; i++) {
			snprintf(le, sizeof(le), "le=\"%g\"", buckets[i]);
			buf_printf(b, "%s_bucket", name);
			labels(b, s, le);
			buf_printf(b, " %llu\n", s->bucket[i]);
		}
		buf_printf(b, "%s_bucket", name);
		labels(b, s, "le=\"+Inf\"");
		buf_printf(b, " %llu\n%s_sum", s->count, name);
		labels(b, s, NULL);
		buf_printf(b, " %.9g\n%s_count", s->value, name);
		labels(b, s, NULL);
		buf_printf(b, " %llu\n", s->count);
		return;
	}
	buf_adds(b, name);
	labels(b, s, NULL);
	buf_printf(b, " %.17g\n", s->value);
}

/* g, whose figures the caller read just now. */
static void render_gauges(struct buf *b, const struct metrics_gauges *g)
{
	if (g->chunks_pending >= 0)
		buf_printf(
		    b,
		    "# HELP vault_embed_queue_chunks Chunks of the whole database waiting to be "
		    "embedded, or failed for good.\n"
		    "# TYPE vault_embed_queue_chunks gauge\n"
		    "vault_embed_queue_chunks{state=\"pending\"} %" PRId64 "\n"
		    "vault_embed_queue_chunks{state=\"failed\"} %" PRId64 "\n",
		    g->chunks_pending, g->chunks_failed);
	buf_printf(
	    b,
	    "# HELP vault_db_connections This process's database connections.\n"
	    "# TYPE vault_db_connections gauge\n"
	    "vault_db_connections{state=\"open\"} %d\n"
	    "vault_db_connections{state=\"in_use\"} %d\n"
	    "# HELP vault_db_connections_max The most connections this process opens.\n"
	    "# TYPE vault_db_connections_max gauge\n"
	    "vault_db_connections_max %d\n"
	    "# HELP vault_db_connection_waits_total Borrowers that found no connection free.\n"
	    "# TYPE vault_db_connection_waits_total counter\n"
	    "vault_db_connection_waits_total %" PRIu64 "\n"
	    "# HELP vault_db_connection_timeouts_total Borrowers that waited too long and "
	    "failed.\n"
	    "# TYPE vault_db_connection_timeouts_total counter\n"
	    "vault_db_connection_timeouts_total %" PRIu64 "\n"
	    "# HELP vault_vector_cache_bytes Vectors this process keeps in memory.\n"
	    "# TYPE vault_vector_cache_bytes gauge\n"
	    "vault_vector_cache_bytes %zu\n"
	    "# HELP vault_db_writes_total Write transactions this process asked for.\n"
	    "# TYPE vault_db_writes_total counter\n"
	    "vault_db_writes_total %" PRIu64 "\n"
	    "# HELP vault_db_commits_total Commits that made them durable: on SQLite, writers "
	    "that queue together share one.\n"
	    "# TYPE vault_db_commits_total counter\n"
	    "vault_db_commits_total %" PRIu64 "\n",
	    g->pool_open, g->pool_in_use, g->pool_max, g->pool_waits, g->pool_timeouts,
	    g->vector_cache_bytes, g->db_writes, g->db_commits);
}

char *metrics_render(const struct metrics_gauges *g)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	buf_printf(&b,
	           "# HELP vault_build_info The running build of vault.\n"
	           "# TYPE vault_build_info gauge\n"
	           "vault_build_info{version=\"%s\"} 1\n"
	           "# HELP vault_http_requests_in_flight Requests being handled now.\n"
	           "# TYPE vault_http_requests_in_flight gauge\n"
	           "vault_http_requests_in_flight %d\n",
	           VAULT_VERSION, atomic_load(&in_flight));
	pthread_mutex_lock(&mu);
	for (int f = 0; f < NFAMILIES; f++) {
		buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
		           families[f].name, families[f].type);
		for (size_t i = 0; i < nseries; i++)
			if (series[i].family == (enum family)f)
				render_series(&b, &series[i]);
	}
	pthread_mutex_unlock(&mu);
	if (g)
		render_gauges(&b, g);
	return buf_steal(&b);
}
