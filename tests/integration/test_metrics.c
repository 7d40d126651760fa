/*
 * test_metrics.c - GET /metrics: off without METRICS_TOKEN, 401 without the
 * token, the Prometheus text format as Debian's promtool checks it, and
 * counts that move with the requests, the embedding worker and the
 * provider calls it makes, and nothing about any user.
 */
#include "integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define TOKEN "metrics-token-0123456789abcdefghijklmnopqrstuvwxyz"

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(metrics, .fini = cleanup, .timeout = IT_TIMEOUT(90));

/* GET /metrics with the token; asserts 200 and returns the body (caller frees). */
static char *scrape(void)
{
	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", "/metrics", TOKEN, NULL, &r), 200, "GET /metrics: %d %s",
	             r.status, r.body);
	cr_assert(it_contains(http_header(&r, "Content-Type"), "text/plain; version=0.0.4", false),
	          "Content-Type: %s", http_header(&r, "Content-Type"));
	char *body = it_strdup(r.body);
	http_resp_free(&r);
	return body;
}

/* The value of the sample written exactly as series ("name{labels}"), 0 if absent. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return 0;
}

/* The value of a series that must be there. */
static double gauge(const char *text, const char *series)
{
	char *line = it_asprintf("\n%s ", series);
	cr_assert(it_contains(text, line, false), "no %s in\n%s", series, text);
	free(line);
	return sample(text, series);
}

/* Exit status of `promtool check metrics` fed text; its report goes to the test's output. */
static int promtool_check(const char *text)
{
	FILE *p = popen("promtool check metrics", "w");
	cr_assert(p != NULL, "cannot run promtool");
	fputs(text, p);
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(metrics, off_without_a_token)
{
	server_start(&srv, NULL);
	struct http_resp r;
	api(&srv, "GET", "/metrics", TOKEN, NULL, &r);
	cr_assert_eq(r.status, 404, "GET /metrics with no METRICS_TOKEN: %d %s", r.status, r.body);
	assert_error_body(&r, "404");
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(metrics, short_token_refused_at_start)
{
	char dir[256];
	it_mkdtemp(dir, sizeof(dir));
	struct cli_result res;
	cli_run(&res, dir, (const char *const[]){"METRICS_TOKEN=short", NULL}, NULL, "serve", NULL);
	cr_assert_neq(res.status, 0, "serve with a 5-character METRICS_TOKEN started");
	cr_assert(it_contains(res.err, "METRICS_TOKEN", false), "error: %s", res.err);
	cr_assert(!it_contains(res.err, "short", false), "the error quotes the token: %s", res.err);
	cli_result_free(&res);
	it_rmtree(dir);
}

Test(metrics, needs_the_token)
{
	server_start(&srv, (const char *const[]){"METRICS_TOKEN=" TOKEN, NULL});
	struct it_user u;
	user_new(&srv, &u);
	const char *tokens[] = {NULL, "wrong-token-0123456789abcdefghijklmnopqrstuvwxyz", u.access};
	for (size_t i = 0; i < 3; i++) {
		struct http_resp r;
		api(&srv, "GET", "/metrics", tokens[i], NULL, &r);
		cr_assert_eq(r.status, 401, "GET /metrics with token %zu: %d %s", i, r.status,
		             r.body);
		assert_error_body(&r, "401");
		cr_assert(!it_contains(r.body, "vault_http", false), "%s", r.body);
		http_resp_free(&r);
	}
	user_free(&u);
	server_stop_ok(&srv);
}

Test(metrics, counts_move_and_promtool_accepts)
{
	server_start(&srv, (const char *const[]){"METRICS_TOKEN=" TOKEN, NULL});
	struct it_user u;
	user_new(&srv, &u);
	char *before = scrape();
	cr_assert_eq(promtool_check(before), 0, "promtool check metrics refused:\n%s", before);

	enum { N = 7, M = 3 };
	struct http_resp r;
	for (int i = 0; i < N; i++) {
		http(&srv, "GET", "/health", NULL, NULL, &r);
		http_resp_free(&r);
	}
	for (int i = 0; i < M; i++) {
		cr_assert_eq(note_get(&srv, u.access, 999999, &r), 404);
		http_resp_free(&r);
	}
	long long id = note_create(&srv, u.access,
	                           "{\"title\":\"Secret plans\",\"content\":\"meet at dawn\"}");
	note_wait_status(&srv, u.access, id, "ready", EMBED_TIMEOUT_MS);

	char *after = scrape();
	cr_assert_eq(promtool_check(after), 0, "promtool check metrics refused:\n%s", after);
	static const char health[] =
	    "vault_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"}";
	static const char missing[] = "vault_http_requests_total{route=\"/api/v1/notes/{id}\","
	                              "method=\"GET\",status=\"404\"}";
	static const char health_count[] =
	    "vault_http_request_duration_seconds_count{route=\"/health\",method=\"GET\"}";
	static const char health_inf[] = "vault_http_request_duration_seconds_bucket{route=\"/"
	                                 "health\",method=\"GET\",le=\"+Inf\"}";
	cr_assert_eq(sample(after, health) - sample(before, health), N, "%s", after);
	cr_assert_eq(sample(after, missing) - sample(before, missing), M, "%s", after);
	cr_assert_eq(sample(after, health_count) - sample(before, health_count), N, "%s", after);
	cr_assert_eq(sample(after, health_inf), sample(after, health_count), "%s", after);
	/* The scrape itself is in flight while it renders; a request answered just
	 * before may still be, until the server has closed its connection. */
	cr_assert_geq(sample(after, "vault_http_requests_in_flight"), 1, "%s", after);
	cr_assert(it_contains(after, "vault_build_info{version=\"", false), "%s", after);
	cr_assert(sample(after, "vault_embed_chunks_total{outcome=\"embedded\"}") >= 1, "%s",
	          after);
	cr_assert(sample(after, "vault_provider_calls_total{provider=\"local\",operation=\"embed\","
	                        "outcome=\"ok\"}") >= 1,
	          "%s", after);
	cr_assert(sample(after, "vault_provider_call_duration_seconds_count{provider=\"local\","
	                        "operation=\"embed\"}") >= 1,
	          "%s", after);
	/* The store's figures: the queue is empty once the note is ready (this test's database
	 * is its own), the pool holds the connections the requests used. */
	cr_assert_eq(gauge(after, "vault_embed_queue_chunks{state=\"pending\"}"), 0, "%s", after);
	cr_assert_eq(gauge(after, "vault_embed_queue_chunks{state=\"failed\"}"), 0, "%s", after);
	double open = gauge(after, "vault_db_connections{state=\"open\"}");
	double in_use = gauge(after, "vault_db_connections{state=\"in_use\"}");
	cr_assert(open >= 1 && in_use <= open, "%s", after);
	cr_assert_geq(gauge(after, "vault_db_connections_max"), open, "%s", after);
	gauge(after, "vault_db_connection_waits_total"); /* there: how many depends on timing */
	cr_assert_eq(gauge(after, "vault_db_connection_timeouts_total"), 0, "%s", after);
	/* A semantic search loads the user's vectors into SQLite's cache; PostgreSQL has none. */
	cr_assert_eq(gauge(after, "vault_vector_cache_bytes"), 0, "%s", after);
	api(&srv, "GET", "/api/v1/search?query=dawn&mode=semantic", u.access, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	http_resp_free(&r);
	char *searched = scrape();
	cr_assert_eq(promtool_check(searched), 0, "promtool check metrics refused:\n%s", searched);
	double cache = gauge(searched, "vault_vector_cache_bytes");
	if (it_pg())
		cr_assert_eq(cache, 0, "%s", searched);
	else
		cr_assert_gt(cache, 0, "%s", searched);
	free(searched);
	/* Nothing of the user: not the e-mail, the note, the id. */
	cr_assert(!it_contains(after, u.email, true), "%s", after);
	cr_assert(!it_contains(after, "Secret plans", true), "%s", after);
	cr_assert(!it_contains(after, "999999", false), "%s", after);
	free(before);
	free(after);
	user_free(&u);
	server_stop_ok(&srv);
}

/* The queue gauge counts every chunk waiting, whoever owns it; no worker runs here. */
Test(metrics, queue_gauge_counts_pending_chunks)
{
	server_start(&srv,
	             (const char *const[]){"METRICS_TOKEN=" TOKEN, "EMBED_WORKER=false", NULL});
	struct it_user a, b;
	user_new(&srv, &a);
	user_new(&srv, &b);
	enum { NA = 3, NB = 2 };
	for (int i = 0; i < NA + NB; i++) {
		char *body = it_asprintf("{\"title\":\"Waiting %d\",\"content\":\"short\"}", i);
		note_create(&srv, i < NA ? a.access : b.access, body);
		free(body);
	}
	char *text = scrape();
	cr_assert_eq(gauge(text, "vault_embed_queue_chunks{state=\"pending\"}"), NA + NB, "%s",
	             text);
	cr_assert_eq(gauge(text, "vault_embed_queue_chunks{state=\"failed\"}"), 0, "%s", text);
	free(text);
	user_free(&a);
	user_free(&b);
	server_stop_ok(&srv);
}

/* Calls to embed text: the local model embeds a query as it embeds a note. */
static double embeds(const char *text)
{
	return sample(text, "vault_provider_calls_total{provider=\"local\",operation=\"embed\","
	                    "outcome=\"ok\"}");
}

/*
 * A user's query asked again is not embedded again; another user's same
 * query is (whether a text is cached must not tell one user what another
 * searched for). Every write is counted, and the commits that made them
 * durable are at most as many.
 */
Test(metrics, queries_embedded_once_per_user_and_writes_counted)
{
	server_start(&srv, (const char *const[]){"METRICS_TOKEN=" TOKEN, NULL});
	struct it_user a, b;
	struct http_resp r;
	user_new(&srv, &a);
	user_new(&srv, &b);
	long long id = note_create(&srv, a.access,
	                           "{\"title\":\"Lighthouse\",\"content\":\"keepers and lamps\"}");
	note_wait_status(&srv, a.access, id, "ready", EMBED_TIMEOUT_MS); /* the worker is done */
	char *before = scrape();
	const char *who[] = {a.access, a.access, b.access, a.access};
	for (size_t i = 0; i < sizeof(who) / sizeof(*who); i++) {
		cr_assert_eq(
		    api(&srv, "GET", "/api/v1/search?query=lamps%20at%20sea", who[i], NULL, &r),
		    200, "%s", r.body);
		http_resp_free(&r);
	}
	char *after = scrape();
	cr_assert_eq(embeds(after) - embeds(before), 2, "%s", after);
	double writes = gauge(after, "vault_db_writes_total");
	double commits = gauge(after, "vault_db_commits_total");
	cr_assert(writes >= 3 && commits >= 1 && commits <= writes, "%s", after); /* logins, note */
	free(before);
	free(after);
	user_free(&a);
	user_free(&b);
	server_stop_ok(&srv);
}
