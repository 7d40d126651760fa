/*
 * test_index.c - the embedding index through the real server: notes answer
 * "pending" at once and the worker makes them "ready"; GET
 * /api/v1/index/status counts; batches to an OpenAI-compatible provider
 * (the fake in tests/common); only changed chunks are embedded again;
 * retries honour Retry-After; pending and failed work survives a restart;
 * a model or dimension change marks vectors stale (semantic search answers
 * 409) until `vault reindex`.
 */
#include "integration/harness.h"

#include "common/fake_openai.h"

#include <string.h>

static struct server srv;
static struct it_user me, other;
static struct fake_openai *fake;
static char *base_kv; /* "OPENAI_BASE_URL=<fake>" */

static void cleanup(void)
{
	user_free(&me);
	user_free(&other);
	server_cleanup(&srv);
	fake_openai_stop(fake);
	fake = NULL;
	free(base_kv);
	base_kv = NULL;
}

TestSuite(index, .fini = cleanup, .timeout = IT_TIMEOUT(90));

/* ------------------------------------------------------------------ */
/* Helpers */

#define FAKE_DIM 32

/* Starts the fake with FAKE_DIM-dimension vectors; sets base_kv. */
static void fake_start(void)
{
	const char *url = fake_openai_start(&fake);
	cr_assert(url, "the fake OpenAI server did not start");
	fake_openai_set_dim(fake, FAKE_DIM);
	base_kv = it_asprintf("OPENAI_BASE_URL=%s", url);
}

/*
 * Starts the server on the fake's embeddings with extra settings (up to 8,
 * NULL-terminated) and registers the caller.
 */
static void setup_openai(const char *const *more)
{
	const char *env[24] = {
	    "EMBEDDING_PROVIDER=openai",       "EMBEDDING_MODEL=fake-embed-a",  "EMBEDDING_DIM=32",
	    "OPENAI_API_KEY=sk-test-key-1234", "AI_TIMEOUT_SECONDS=2",          "AI_MAX_RETRIES=0",
	    "VAULT_TEST_AI_BACKOFF_MS=5",      "VAULT_TEST_AI_COOLDOWN_MS=100", base_kv};
	size_t n = 9;
	for (size_t i = 0; more && more[i] && n < 23; i++)
		env[n++] = more[i];
	env[n] = NULL;
	server_start(&srv, env);
	user_new(&srv, &me);
}

static long long add(const char *token, const char *title, const char *content)
{
	char *body = it_jpack("{s:s, s:s}", "title", title, "content", content);
	long long id = note_create(&srv, token, body);
	free(body);
	return id;
}

/* PUT /api/v1/notes/{id} with body; asserts 200 and returns the embedding_status it answered. */
static char *put(long long id, const char *body)
{
	char path[64];
	struct http_resp r;
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", id);
	api(&srv, "PUT", path, me.access, body, &r);
	cr_assert_eq(r.status, 200, "PUT %s: %d %.300s", body, r.status, r.body);
	const char *st = resp_str(&r, "embedding_status");
	cr_assert(st, "PUT answer without embedding_status: %.300s", r.body);
	char *out = it_strdup(st);
	http_resp_free(&r);
	return out;
}

/* Texts the fake has been asked to embed, over all its requests; *nreq gets the request count. */
static int texts_embedded(int *nreq, int *largest)
{
	int total = 0, i = 0, n;
	if (largest)
		*largest = 0;
	while ((n = fake_openai_batch_size(fake, i)) >= 0) {
		total += n;
		if (largest && n > *largest)
			*largest = n;
		i++;
	}
	if (nreq)
		*nreq = i;
	return total;
}

static int search(const char *token, const char *query, const char *mode, struct http_resp *r)
{
	char *enc = it_urlencode(query);
	char *path = it_asprintf("/api/v1/search?query=%s&mode=%s&top_k=20", enc, mode);
	int st = api(&srv, "GET", path, token, NULL, r);
	free(path);
	free(enc);
	return st;
}

static size_t nresults(const struct http_resp *r)
{
	json_t *a = r->json ? json_object_get(r->json, "results") : NULL;
	cr_assert(json_is_array(a), "no results array: %.300s", r->body);
	return json_array_size(a);
}

static long long result_id(const struct http_resp *r, size_t i)
{
	json_t *a = json_object_get(r->json, "results");
	return (long long)json_integer_value(json_object_get(json_array_get(a, i), "id"));
}

/* Polls until the fake has seen at least n embeddings requests; fails after timeout_ms. */
static void wait_embed_requests(int n, int timeout_ms)
{
	double deadline = it_now_ms() + timeout_ms;
	while (fake_openai_requests(fake, FAKE_EP_EMBEDDINGS) < n) {
		if (it_now_ms() > deadline) {
			char *tail = server_log_tail(&srv);
			cr_fatal("the fake saw %d embeddings requests in %d ms, expected %d\n%s",
			         fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), timeout_ms, n,
			         tail);
		}
		it_sleep_ms(10);
	}
}

static const char multi_section[] =
    "## Ingredients\n\nFlour, water, salt and a lively starter.\n\n"
    "## Method\n\nMix, rest for an hour, fold four times, shape and proof overnight.\n\n"
    "## Baking\n\nPreheat the dutch oven to 250 degrees and bake for forty minutes.\n\n"
    "## Serving\n\nLet it cool for an hour before slicing; serve with salted butter.\n";

/* ------------------------------------------------------------------ */
/* Local embedder */

Test(index, create_is_pending_then_ready)
{
	server_start(&srv, NULL);
	user_new(&srv, &me);
	struct it_index ix;
	index_status(&srv, me.access, &ix);
	cr_assert(ix.pending == 0 && ix.ready == 0 && ix.failed == 0 && ix.stale == 0,
	          "a new user's index is not empty");
	cr_assert_str_eq(ix.model, "use-lite-v1", "default model");
	cr_assert_eq(ix.dim, 512, "default dimension");

	struct http_resp r;
	api(&srv, "POST", "/api/v1/notes", me.access,
	    "{\"title\":\"Sourdough loaf\",\"content\":\"Feed the starter.\"}", &r);
	cr_assert_eq(r.status, 201);
	cr_assert_str_eq(resp_str(&r, "embedding_status") ? resp_str(&r, "embedding_status") : "",
	                 "pending", "create answers embedding_status pending: %.300s", r.body);
	long long id = (long long)json_integer_value(json_object_get(r.json, "id"));
	http_resp_free(&r);
	note_wait_status(&srv, me.access, id, "ready", EMBED_TIMEOUT_MS);

	long long id2 = add(me.access, "Sourdough log", multi_section);
	note_wait_status(&srv, me.access, id2, "ready", EMBED_TIMEOUT_MS);
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.ready, 5, "1 + 4 chunks (one per section) expected ready, got %lld",
	             ix.ready);
	cr_assert_eq(ix.pending + ix.failed + ix.stale, 0);

	/* Lists carry the status too. */
	api(&srv, "GET", "/api/v1/notes", me.access, NULL, &r);
	json_t *items = json_object_get(r.json, "items");
	cr_assert(json_is_array(items) && json_array_size(items) == 2, "%.300s", r.body);
	for (size_t i = 0; i < 2; i++) {
		json_t *st = json_object_get(json_array_get(items, i), "embedding_status");
		cr_assert(json_is_string(st) && strcmp(json_string_value(st), "ready") == 0,
		          "list item %zu: %.300s", i, r.body);
	}
	http_resp_free(&r);

	/* An edit of the text is pending again; a tags-only edit changes no chunk. */
	char *st = put(id, "{\"content\":\"Feed the starter twice a day.\"}");
	cr_assert_str_eq(st, "pending", "an edited text must be embedded again");
	free(st);
	note_wait_status(&srv, me.access, id, "ready", EMBED_TIMEOUT_MS);
	st = put(id, "{\"tags\":[\"bread\"]}");
	cr_assert_str_eq(st, "ready", "tags are not embedded: nothing to do");
	free(st);
	st = put(id, "{\"content\":\"Feed the starter twice a day.\"}");
	cr_assert_str_eq(st, "ready", "an unchanged text is not embedded again");
	free(st);

	/* Not without a token. */
	api(&srv, "GET", "/api/v1/index/status", NULL, NULL, &r);
	cr_assert_eq(r.status, 401, "index status without a token: %d", r.status);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

static const char *const dim64_env[] = {"EMBEDDING_PROVIDER=hash", "EMBEDDING_DIM=64", NULL};

Test(index, status_is_per_user_and_follows_config)
{
	server_start(&srv, dim64_env);
	user_new(&srv, &me);
	user_new(&srv, &other);
	for (int i = 0; i < 3; i++) {
		char *t = it_asprintf("Note %d", i);
		add(me.access, t, "Some words to embed.");
		free(t);
	}
	add(other.access, "Theirs", "Other words.");
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.ready, 3, "my ready count %lld", ix.ready);
	cr_assert_eq(ix.dim, 64, "EMBEDDING_DIM=64 not reported: %d", ix.dim);
	cr_assert_str_eq(ix.model, "local-hash-v1");
	index_wait_settled(&srv, other.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.ready, 1, "their ready count %lld", ix.ready);
	server_stop_ok(&srv);
}

static const char *const worker_off_env[] = {"EMBED_WORKER=false", NULL};
/* The hashing embedder (384 dimensions by default), for moves to the local model. */
static const char *const hash_env[] = {"EMBEDDING_PROVIDER=hash", NULL};

Test(index, pending_work_survives_a_restart)
{
	server_start(&srv, worker_off_env);
	user_new(&srv, &me);
	long long ids[4];
	for (int i = 0; i < 4; i++) {
		char *t = it_asprintf("Queued %d", i);
		ids[i] = add(me.access, t, i == 3 ? multi_section : "Embed me later.");
		free(t);
	}
	it_sleep_ms(700); /* longer than the worker's poll, were one running */
	struct it_index ix;
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.pending, 7, "pending %lld, expected 3 + 4 chunks", ix.pending);
	cr_assert_eq(ix.ready, 0, "EMBED_WORKER=false embedded anyway");
	server_stop_ok(&srv);

	server_setenv(&srv, "EMBED_WORKER=true");
	server_restart(&srv);
	for (int i = 0; i < 4; i++)
		note_wait_status(&srv, me.access, ids[i], "ready", EMBED_TIMEOUT_MS);
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.ready, 7, "after the restart: ready %lld", ix.ready);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* OpenAI-compatible provider */

Test(index, openai_batches_respect_embed_batch_size)
{
	fake_start();
	const char *more[] = {"EMBED_BATCH_SIZE=3", "EMBED_WORKER=false", NULL};
	setup_openai(more);
	/* Ten notes queue up while no worker runs... */
	long long ids[10];
	for (int i = 0; i < 10; i++) {
		char *t = it_asprintf("Batch note %d", i);
		char *c = it_asprintf("Paragraph number %d about batching.", i);
		ids[i] = add(me.access, t, c);
		free(t);
		free(c);
	}
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 0);
	server_stop_ok(&srv);

	/* ...then one starts and takes them three at a time. */
	server_setenv(&srv, "EMBED_WORKER");
	server_restart(&srv);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.ready, 10, "ready %lld, failed %lld", ix.ready, ix.failed);
	cr_assert_str_eq(ix.model, "fake-embed-a");
	cr_assert_eq(ix.dim, FAKE_DIM);
	for (int i = 0; i < 10; i++) {
		char *st = note_embedding_status(&srv, me.access, ids[i]);
		cr_assert_str_eq(st, "ready", "note %d", i);
		free(st);
	}
	int nreq, largest;
	int total = texts_embedded(&nreq, &largest);
	cr_assert_eq(total, 10, "the fake embedded %d texts, expected 10", total);
	cr_assert_leq(largest, 3, "a request of %d texts with EMBED_BATCH_SIZE=3", largest);
	cr_assert_eq(largest, 3, "no request carried a full batch: texts are not batched");
	cr_assert_eq(nreq, 4, "%d requests for 10 texts in batches of 3, expected 4", nreq);

	/* Each text carries its note's title; the key went as a bearer token, never to the log. */
	char *body = fake_openai_last_body(fake, FAKE_EP_EMBEDDINGS);
	cr_assert(body && strstr(body, "Batch note ") && strstr(body, "about batching"),
	          "embedding input without title or text: %.300s", body);
	cr_assert(strstr(body, "\"model\":\"fake-embed-a\"") ||
	              strstr(body, "\"model\": \"fake-embed-a\""),
	          "EMBEDDING_MODEL not sent: %.300s", body);
	free(body);
	char *auth = fake_openai_last_auth(fake);
	cr_assert(auth && strcmp(auth, "Bearer sk-test-key-1234") == 0, "Authorization: %s",
	          auth ? auth : "(none)");
	free(auth);
	char *log = server_log(&srv);
	cr_assert(!strstr(log, "sk-test-key-1234"), "the API key reached the log");
	free(log);
	server_stop_ok(&srv);
}

Test(index, edit_reembeds_only_changed_chunks)
{
	fake_start();
	setup_openai(NULL);
	long long id = add(me.access, "Sourdough loaf", multi_section);
	note_wait_status(&srv, me.access, id, "ready", EMBED_TIMEOUT_MS);
	int total = texts_embedded(NULL, NULL);
	cr_assert_eq(total, 4, "4 sections should be 4 chunks embedded, got %d", total);

	/* One paragraph changes: one chunk goes out again. */
	fake_openai_reset_counters(fake);
	char *edited = it_strdup(multi_section);
	char *at = strstr(edited, "forty minutes");
	cr_assert(at);
	memcpy(at, "fifty minutes", 13);
	char *body = it_jpack("{s:s}", "content", edited);
	char *st = put(id, body);
	cr_assert_str_eq(st, "pending");
	free(st);
	note_wait_status(&srv, me.access, id, "ready", EMBED_TIMEOUT_MS);
	total = texts_embedded(NULL, NULL);
	cr_assert_eq(total, 1, "editing one section re-embedded %d chunks, expected 1", total);
	char *last = fake_openai_last_body(fake, FAKE_EP_EMBEDDINGS);
	cr_assert(last && strstr(last, "fifty minutes"), "the changed chunk was not sent: %.400s",
	          last);
	cr_assert(strstr(last, "Sourdough loaf") && strstr(last, "Baking"),
	          "the chunk lost its title or heading context: %.400s", last);
	cr_assert(!strstr(last, "salted butter") && !strstr(last, "lively starter"),
	          "unchanged chunks were sent again: %.400s", last);
	free(last);
	struct it_index ix;
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.ready, 4, "ready %lld after the edit", ix.ready);

	/* Same text again, tags only: nothing to embed. */
	fake_openai_reset_counters(fake);
	st = put(id, body);
	cr_assert_str_eq(st, "ready");
	free(st);
	st = put(id, "{\"tags\":[\"bread\",\"baking\"]}");
	cr_assert_str_eq(st, "ready");
	free(st);
	it_sleep_ms(700); /* a worker poll */
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 0,
	             "unchanged chunks were embedded again");

	/* The title is in every chunk's context: renaming re-embeds them all. */
	st = put(id, "{\"title\":\"Country loaf\"}");
	cr_assert_str_eq(st, "pending");
	free(st);
	note_wait_status(&srv, me.access, id, "ready", EMBED_TIMEOUT_MS);
	total = texts_embedded(NULL, NULL);
	cr_assert_eq(total, 4, "a new title re-embedded %d chunks, expected 4", total);
	free(body);
	free(edited);
	server_stop_ok(&srv);
}

Test(index, retries_honour_retry_after)
{
	fake_start();
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_429, 2);
	fake_openai_set_retry_after(fake, 1);
	const char *more[] = {"AI_MAX_RETRIES=3", NULL};
	setup_openai(more);
	double t0 = it_now_ms();
	long long id = add(me.access, "Rate limited", "Embed me despite the 429s.");
	note_wait_status(&srv, me.access, id, "ready", EMBED_TIMEOUT_MS);
	double took = it_now_ms() - t0;
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 3,
	             "%d requests: expected two 429s, then success",
	             fake_openai_requests(fake, FAKE_EP_EMBEDDINGS));
	cr_assert_geq(took, 1900, "ready after %.0f ms: Retry-After: 1 (twice) was not honoured",
	              took);
	struct it_index ix;
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.failed, 0);
	cr_assert_eq(ix.ready, 1);
	server_stop_ok(&srv);
}

Test(index, failed_embeddings_survive_a_restart)
{
	fake_start();
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_500, FAKE_ALWAYS);
	setup_openai(NULL);
	long long ids[3];
	for (int i = 0; i < 3; i++) {
		char *t = it_asprintf("Durable %d", i);
		ids[i] = add(me.access, t, "Survive the outage and the restart.");
		free(t);
	}
	wait_embed_requests(1, EMBED_TIMEOUT_MS);
	struct it_index ix;
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.ready, 0, "ready chunks although the provider only fails");
	cr_assert_eq(ix.pending + ix.failed, 3, "pending %lld + failed %lld, expected 3",
	             ix.pending, ix.failed);
	for (int i = 0; i < 3; i++) {
		char *st = note_embedding_status(&srv, me.access, ids[i]);
		cr_assert(strcmp(st, "pending") == 0 || strcmp(st, "failed") == 0,
		          "note %d: embedding_status %s while the provider fails", i, st);
		free(st);
	}
	server_stop_ok(&srv);

	/* The provider is back; a new process finds the work in the database. */
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_OK, FAKE_ALWAYS);
	fake_openai_reset_counters(fake);
	server_restart(&srv);
	for (int i = 0; i < 3; i++)
		note_wait_status(&srv, me.access, ids[i], "ready", EMBED_TIMEOUT_MS);
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.ready, 3);
	cr_assert_eq(ix.pending + ix.failed, 0);
	cr_assert_eq(texts_embedded(NULL, NULL), 3, "each chunk should be embedded exactly once");
	server_stop_ok(&srv);
}

Test(index, wrong_dimensions_are_refused)
{
	fake_start();
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_WRONG_DIM, FAKE_ALWAYS);
	setup_openai(NULL);
	long long id = add(me.access, "Odd vectors", "The provider answers half the dimensions.");
	wait_embed_requests(1, EMBED_TIMEOUT_MS);
	it_sleep_ms(200);
	struct it_index ix;
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.ready, 0, "a vector of the wrong dimension was stored");
	char *st = note_embedding_status(&srv, me.access, id);
	cr_assert_str_neq(st, "ready");
	free(st);

	struct http_resp r;
	search(me.access, "provider dimensions", "semantic", &r);
	cr_assert_eq(r.status, 503, "semantic search with wrong-dimension answers: %d %.300s",
	             r.status, r.body);
	assert_error_body(&r, "wrong dim");
	const char *d = resp_str(&r, "detail");
	cr_assert(strncmp(d, "AI service unavailable", 22) == 0 &&
	              it_contains(d, "dimension", true),
	          "detail does not explain: %s", d);
	http_resp_free(&r);
	/* Words still find it. */
	search(me.access, "provider dimensions", "hybrid", &r);
	cr_assert_eq(r.status, 200, "%.300s", r.body);
	cr_assert_eq(nresults(&r), 1, "%.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Model changes and `vault reindex` */

Test(index, model_change_is_stale_until_reindex)
{
	fake_start();
	setup_openai(NULL);
	long long ids[3];
	static const char *const titles[] = {"Kubernetes rollout", "Garden beds", "Tax forms"};
	static const char *const texts[] = {
	    "kubectl apply the deployment and watch the pods roll out.",
	    "Tomatoes in the south bed, beans along the fence.",
	    "Gather receipts and bank statements before April."};
	for (int i = 0; i < 3; i++)
		ids[i] = add(me.access, titles[i], texts[i]);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.ready, 3);
	struct http_resp r;
	search(me.access, "kubectl deployment pods", "semantic", &r);
	cr_assert_eq(r.status, 200, "%.300s", r.body);
	cr_assert_geq(nresults(&r), 1);
	cr_assert_eq(result_id(&r, 0), ids[0]);
	http_resp_free(&r);
	server_stop_ok(&srv);

	/* Another model: the old vectors are kept but never compared with the new ones. */
	server_setenv(&srv, "EMBEDDING_MODEL=fake-embed-b");
	server_restart(&srv);
	index_status(&srv, me.access, &ix);
	cr_assert_str_eq(ix.model, "fake-embed-b");
	cr_assert_eq(ix.stale, 3, "stale %lld after a model change, expected 3", ix.stale);

	search(me.access, "kubectl deployment pods", "semantic", &r);
	cr_assert_eq(r.status, 409, "semantic search over another model's vectors: %d %.300s",
	             r.status, r.body);
	assert_error_body(&r, "stale");
	cr_assert(it_contains(resp_str(&r, "detail"), "vault reindex", false),
	          "the 409 does not say what to do: %s", resp_str(&r, "detail"));
	http_resp_free(&r);
	/* Hybrid still answers, by words. */
	search(me.access, "kubectl deployment pods", "hybrid", &r);
	cr_assert_eq(r.status, 200, "hybrid during a model change: %d %.300s", r.status, r.body);
	cr_assert_eq(nresults(&r), 1, "%.300s", r.body);
	cr_assert_eq(result_id(&r, 0), ids[0]);
	http_resp_free(&r);

	/* `vault reindex` from another process, on the same database, while the server runs. */
	struct cli_result c;
	cli_run(&c, srv.dir, (const char *const *)srv.extra_env, NULL, "reindex", NULL);
	cr_assert_eq(c.status, 0, "vault reindex: exit %d\n%s%s", c.status, c.out, c.err);
	cr_assert(it_contains(c.out, "reindexed", false) &&
	              it_contains(c.out, "fake-embed-b", false),
	          "vault reindex printed: %s", c.out);
	cli_result_free(&c);
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.stale, 0, "stale %lld after vault reindex", ix.stale);
	cr_assert_eq(ix.ready, 3);
	search(me.access, "kubectl deployment pods", "semantic", &r);
	cr_assert_eq(r.status, 200, "semantic search after reindex: %d %.300s", r.status, r.body);
	cr_assert_geq(nresults(&r), 1, "%.300s", r.body);
	cr_assert_eq(result_id(&r, 0), ids[0], "%.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(index, mixed_models_are_never_compared)
{
	fake_start();
	setup_openai(NULL);
	long long old = add(me.access, "Old model note", "Kubernetes pods and deployments.");
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	server_stop_ok(&srv);
	server_setenv(&srv, "EMBEDDING_MODEL=fake-embed-b");
	server_restart(&srv);
	long long fresh = add(me.access, "New model note", "Kubernetes pods and services.");
	note_wait_status(&srv, me.access, fresh, "ready", EMBED_TIMEOUT_MS);
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.stale, 1, "stale %lld", ix.stale);
	cr_assert_eq(ix.ready, 2, "ready %lld", ix.ready);

	/* Only vectors of the current model answer; the old one is not scored against them. */
	struct http_resp r;
	search(me.access, "kubernetes pods", "semantic", &r);
	cr_assert_eq(r.status, 200, "%d %.300s", r.status, r.body);
	bool has_old = false, has_new = false;
	for (size_t i = 0; i < nresults(&r); i++) {
		has_old |= result_id(&r, i) == old;
		has_new |= result_id(&r, i) == fresh;
	}
	cr_assert(has_new, "the note of the current model is missing: %.300s", r.body);
	cr_assert(!has_old, "a vector of another model was compared: %.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(index, dimension_change_and_reindex_of_one_user)
{
	if (it_pg())
		cr_skip_test("PostgreSQL keeps one vector(N) column: see "
		             "dimension_change_retypes_the_vector_column");
	server_start(&srv, hash_env);
	user_new(&srv, &me);
	user_new(&srv, &other);
	add(me.access, "Mine", "Bicycles, gears and chains.");
	add(me.access, "Mine too", "Brakes and tyres for the bicycle.");
	add(other.access, "Theirs", "Bicycles for the whole family.");
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	index_wait_settled(&srv, other.access, EMBED_TIMEOUT_MS, &ix);
	server_stop_ok(&srv);

	/* An install that used the hashing embedder moves to the local model. */
	server_setenv(&srv, "EMBEDDING_PROVIDER=local");
	server_restart(&srv);
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.dim, 512);
	cr_assert_str_eq(ix.model, "use-lite-v1");
	cr_assert_eq(ix.stale, 2, "stale %lld after a model and dimension change", ix.stale);
	struct http_resp r;
	search(me.access, "bicycle gears", "semantic", &r);
	cr_assert_eq(r.status, 409, "semantic over vectors of another dimension: %d %.300s",
	             r.status, r.body);
	cr_assert(it_contains(resp_str(&r, "detail"), "vault reindex", false), "%.300s", r.body);
	http_resp_free(&r);

	struct cli_result c;
	cli_run(&c, srv.dir, (const char *const *)srv.extra_env, NULL, "reindex", "--user",
	        me.email, NULL);
	cr_assert_eq(c.status, 0, "vault reindex --user: exit %d\n%s%s", c.status, c.out, c.err);
	cli_result_free(&c);
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.stale, 0, "my stale count %lld after reindex", ix.stale);
	cr_assert_eq(ix.ready, 2);
	search(me.access, "bicycle gears", "semantic", &r);
	cr_assert_eq(r.status, 200, "%d %.300s", r.status, r.body);
	cr_assert_geq(nresults(&r), 1, "%.300s", r.body);
	http_resp_free(&r);
	/* The other user was not part of it. */
	index_status(&srv, other.access, &ix);
	cr_assert_eq(ix.stale, 1, "reindex --user touched another user's chunks");

	cli_run(&c, srv.dir, (const char *const *)srv.extra_env, NULL, "reindex", "--user",
	        "nobody@example.com", NULL);
	cr_assert_neq(c.status, 0, "reindex of an unknown user succeeded: %s", c.out);
	cli_result_free(&c);
	server_stop_ok(&srv);
}

/*
 * PostgreSQL's vectors are one vector(EMBEDDING_DIM) column (the HNSW index
 * needs one dimension): a server with another EMBEDDING_DIM refuses to
 * start and says what to do; `vault reindex` of everyone retypes the column
 * and embeds every note again; one user alone cannot.
 */
Test(index, dimension_change_retypes_the_vector_column)
{
	if (!it_pg())
		cr_skip_test("SQLite keeps vectors of any dimension side by side");
	server_start(&srv, hash_env);
	user_new(&srv, &me);
	user_new(&srv, &other);
	add(me.access, "Mine", "Bicycles, gears and chains.");
	add(other.access, "Theirs", "Bicycles for the whole family.");
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	index_wait_settled(&srv, other.access, EMBED_TIMEOUT_MS, &ix);
	server_stop_ok(&srv);

	server_setenv(&srv, "EMBEDDING_PROVIDER=local");
	const char *const *env = (const char *const *)srv.extra_env;
	struct cli_result c;
	cli_run(&c, srv.dir, env, NULL, "serve", NULL);
	cr_assert_neq(c.status, 0, "serve started with vectors of another dimension");
	cr_assert(it_contains(c.out, "vector(384)", false) &&
	              it_contains(c.out, "vault reindex", false),
	          "the refusal does not say why or what to do: %s%s", c.out, c.err);
	cli_result_free(&c);

	cli_run(&c, srv.dir, env, NULL, "reindex", "--user", me.email, NULL);
	cr_assert_neq(c.status, 0, "reindex of one user retyped everyone's vectors: %s", c.out);
	cr_assert(it_contains(c.err, "without --user", false), "%s", c.err);
	cli_result_free(&c);

	cli_run(&c, srv.dir, env, NULL, "reindex", NULL);
	cr_assert_eq(c.status, 0, "vault reindex: exit %d\n%s%s", c.status, c.out, c.err);
	cr_assert(it_contains(c.out, "reindexed 2 chunks", false), "%s", c.out);
	cli_result_free(&c);

	server_restart(&srv);
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.dim, 512);
	cr_assert(ix.ready == 1 && ix.stale == 0 && ix.pending == 0, "me: %lld ready, %lld stale",
	          ix.ready, ix.stale);
	index_status(&srv, other.access, &ix);
	cr_assert(ix.ready == 1 && ix.stale == 0, "other: %lld ready, %lld stale", ix.ready,
	          ix.stale);
	struct http_resp r;
	search(me.access, "bicycle gears", "semantic", &r);
	cr_assert_eq(r.status, 200, "%d %.300s", r.status, r.body);
	cr_assert_eq(nresults(&r), 1, "%.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}
