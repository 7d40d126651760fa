/*
 * test_scale.c - several vault processes on one database: two API servers
 * and two `vault worker`s sharing the embedding queue under concurrent
 * writes and searches; one refresh token raced across two servers; the
 * PostgreSQL pool's bounded wait (503, not a hang); a PostgreSQL restart
 * under write load.
 *
 * Every test runs on the backend the harness picks (SQLite, or PostgreSQL
 * with VAULT_TEST_PG_URL); the pool and restart tests skip on SQLite. The
 * restart test also needs VAULT_TEST_PG_RESTART, since it restarts the
 * shared database server: scripts/test runs it alone.
 *
 * Embeddings come from a recorder in this file rather than the fake in
 * tests/common: it answers the fake's vectors (fake_openai_vector) and
 * keeps every text it was asked to embed, which is what "each chunk is
 * embedded once" is checked against.
 */
#include "integration/harness.h"

#include "common/fake_openai.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct server srv_a, srv_b, work1, work2;
static struct it_user me;
static struct recorder *rec;

static void rec_stop(struct recorder *r);

static void cleanup(void)
{
	user_free(&me);
	/* srv_a's directory names the shared database: it goes last. */
	server_cleanup(&work1);
	server_cleanup(&work2);
	server_cleanup(&srv_b);
	server_cleanup(&srv_a);
	rec_stop(rec);
	rec = NULL;
}

TestSuite(scale, .fini = cleanup, .timeout = IT_TIMEOUT(120));

/* ------------------------------------------------------------------ */
/* The recording embeddings server */

#define REC_DIM 256 /* wide enough that unrelated fake vectors stay far apart */
/* Each batch of chunks takes this long, so batches are in flight while notes change. */
#define REC_DELAY_MS 60

struct recorder {
	struct MHD_Daemon *daemon;
	char url[64];
	pthread_mutex_t mu;
	char **texts; /* every input text, in arrival order */
	size_t n, cap;
};

struct rec_upload {
	char *buf;
	size_t len;
};

static void rec_add(struct recorder *r, const char *text)
{
	pthread_mutex_lock(&r->mu);
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 256;
		r->texts = realloc(r->texts, r->cap * sizeof(char *));
		if (!r->texts)
			abort();
	}
	r->texts[r->n++] = it_strdup(text);
	pthread_mutex_unlock(&r->mu);
}

/* {"data": [{"index": i, "embedding": [...]}, ...]} for the request's "input" array. */
static json_t *rec_answer(struct recorder *r, json_t *input)
{
	json_t *data = json_array();
	float v[REC_DIM];
	size_t i;
	json_t *t;
	json_array_foreach(input, i, t)
	{
		if (!json_is_string(t)) {
			json_decref(data);
			return NULL;
		}
		rec_add(r, json_string_value(t));
		fake_openai_vector(json_string_value(t), REC_DIM, v);
		json_t *emb = json_array();
		for (int k = 0; k < REC_DIM; k++)
			json_array_append_new(emb, json_real(v[k]));
		json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding",
		                                      "index", (json_int_t)i, "embedding", emb));
	}
	return json_pack("{s:s, s:o, s:s}", "object", "list", "data", data, "model", "recorder");
}

static enum MHD_Result rec_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
	(void)version;
	struct recorder *r = cls;
	struct rec_upload *up = *con_cls;
	if (!up) {
		*con_cls = calloc(1, sizeof(*up));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*size > 0) {
		up->buf = realloc(up->buf, up->len + *size + 1);
		if (!up->buf)
			abort();
		memcpy(up->buf + up->len, data, *size);
		up->len += *size;
		up->buf[up->len] = '\0';
		*size = 0;
		return MHD_YES;
	}
	json_t *req = json_loadb(up->buf ? up->buf : "", up->len, 0, NULL);
	json_t *input = json_object_get(req, "input");
	json_t *answer = NULL;
	size_t ulen = strlen(url);
	if (strcmp(method, "POST") == 0 && ulen >= 11 &&
	    strcmp(url + ulen - 11, "/embeddings") == 0 && json_is_array(input))
		answer = rec_answer(r, input);
	unsigned status = answer ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST;
	const char *first = json_string_value(json_array_get(input, 0));
	if (answer && first && strchr(first, '\n')) /* chunks, not a search's query */
		it_sleep_ms(REC_DELAY_MS);
	if (!answer)
		answer = json_pack("{s:{s:s}}", "error", "message", "not an embeddings request");
	char *body = json_dumps(answer, JSON_COMPACT | JSON_REAL_PRECISION(7));
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	json_decref(answer);
	json_decref(req);
	return ret;
}

static void rec_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	struct rec_upload *up = *con_cls;
	if (up) {
		free(up->buf);
		free(up);
		*con_cls = NULL;
	}
}

/* Starts the recorder on 127.0.0.1 and an ephemeral port; asserts. */
static struct recorder *rec_start(void)
{
	struct recorder *r = calloc(1, sizeof(*r));
	cr_assert(r);
	pthread_mutex_init(&r->mu, NULL);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	r->daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
	    rec_handle, r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_NOTIFY_COMPLETED, rec_completed, NULL, MHD_OPTION_END);
	cr_assert(r->daemon, "the recording embeddings server did not start");
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/v1", info ? (int)info->port : 0);
	return r;
}

static void rec_stop(struct recorder *r)
{
	if (!r)
		return;
	MHD_stop_daemon(r->daemon);
	for (size_t i = 0; i < r->n; i++)
		free(r->texts[i]);
	free(r->texts);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Notes whose chunks can be told apart in what was embedded */

#define NOTES          60
#define WRITERS        4
#define SEARCHERS      2
#define MAX_SECTIONS   3
#define MARKER_MAX     48
#define LONG_SENTENCE  45 /* sentences of a long section: ~1800 characters, two chunks or more */
#define SHORT_SENTENCE 3  /* of any other section: one chunk */

/*
 * Note i has 1 + i % 3 sections, each under a heading "Part s <marker>";
 * the marker (m<i>s<s>v<version>q) names the section's current text, and
 * the chunker puts the heading trail into every chunk's embedding input,
 * so each text the recorder got names the one section it came from. Every
 * sentence holds the note's unique word, which the title holds too.
 */
struct tnote {
	long long id; /* 0 until created */
	int nsec;
	bool long_first;        /* section 0 is long: several chunks */
	int tver;               /* version of the title (and word) */
	int sver[MAX_SECTIONS]; /* version of each section */
	bool deleted;
};

static const char *const fillers[] = {
    "amber",  "basalt",  "cedar",   "dune",   "ember",   "fjord",  "granite", "harbor",
    "indigo", "juniper", "kelp",    "lagoon", "meadow",  "nectar", "orchid",  "pebble",
    "quartz", "reef",    "saffron", "tundra", "umber",   "valley", "willow",  "yarrow",
    "zenith", "birch",   "coral",   "delta",  "estuary", "fern",   "glacier", "heath",
    "island", "jasper",  "knoll",   "lichen", "marsh",   "nimbus", "oasis",   "prairie"};
#define NFILLERS (sizeof(fillers) / sizeof(fillers[0]))

/* The note's unique word at title version tver: letters only, so no stemmer trims it. */
static void word_of(int i, int tver, char out[16])
{
	static const char *const syl[] = {"ka", "lo", "mi", "nu", "pe",
	                                  "ra", "so", "ti", "vu", "ze"};
	snprintf(out, 16, "q%s%s%sx", syl[i / 10 % 10], syl[i % 10], syl[tver % 10]);
}

static void marker_of(int i, int s, int ver, char out[MARKER_MAX])
{
	snprintf(out, MARKER_MAX, "m%03ds%dv%dq", i, s, ver);
}

static char *note_title(int i, const struct tnote *t)
{
	char word[16];
	word_of(i, t->tver, word);
	return it_asprintf("%s field notes", word);
}

static char *note_content(int i, const struct tnote *t)
{
	char word[16], marker[MARKER_MAX];
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		abort(); /* out of memory; and this runs on the writer threads, which never assert
		          */
	word_of(i, t->tver, word);
	for (int s = 0; s < t->nsec; s++) {
		marker_of(i, s, t->sver[s], marker);
		fprintf(f, "## Part %d %s\n\n", s, marker);
		int n = s == 0 && t->long_first ? LONG_SENTENCE : SHORT_SENTENCE;
		for (int j = 0; j < n; j++) {
			unsigned h =
			    (unsigned)(i * 7919 + s * 104729 + t->sver[s] * 1299709 + j * 31);
			fprintf(f, "%s%s %s %s %s.", j ? " " : "", word, fillers[h % NFILLERS],
			        fillers[(h / 7) % NFILLERS], fillers[(h / 49) % NFILLERS]);
		}
		fputs("\n\n", f);
	}
	fclose(f);
	return out;
}

static char *note_body(int i, const struct tnote *t)
{
	char *title = note_title(i, t), *content = note_content(i, t);
	char *body =
	    it_jpack("{s:s, s:s, s:[s]}", "title", title, "content", content, "tags", "scale");
	free(title);
	free(content);
	return body;
}

/* ------------------------------------------------------------------ */
/* Threads (they never assert: they record, the test's thread checks) */

struct outcome {
	int requests, errors;
	char first[600]; /* the first error */
};

static void fail_at(struct outcome *o, const char *what, const struct http_resp *r)
{
	if (o->errors++ == 0)
		snprintf(o->first, sizeof(o->first), "%s: status %d, curl %d, body %.300s", what,
		         r->status, r->curl_err, r->body ? r->body : "");
}

/* One request as token to base_url; counts it, and an error unless the status is want. */
static bool call(struct outcome *o, const char *base_url, const char *method, const char *path,
                 const char *token, const char *body, int want, struct http_resp *r)
{
	struct http_req q = {.method = method,
	                     .path = path,
	                     .token = token,
	                     .body = body,
	                     .body_len = body ? strlen(body) : 0};
	http_do(base_url, &q, r);
	o->requests++;
	if (r->status == want && (want == 204 || json_is_object(r->json)))
		return true;
	char *what = it_asprintf("%s %s", method, path);
	fail_at(o, what, r);
	free(what);
	return false;
}

struct writer {
	int k;
	struct tnote *notes;
	const char *token;
	const char *url[2];
	struct outcome o;
};

/*
 * Creates notes k, k + WRITERS, ... alternately through each server, and
 * changes some through the other one 0-400 ms later, while their chunks
 * may be pending, leased, in flight or ready: i % 10 == 3 rewrites the
 * last section, 6 changes the title (every chunk), 9 deletes the note.
 */
static void *writer_run(void *arg)
{
	struct writer *w = arg;
	for (int i = w->k; i < NOTES; i += WRITERS) {
		struct tnote *t = &w->notes[i];
		struct http_resp r;
		char *body = note_body(i, t);
		bool ok =
		    call(&w->o, w->url[i % 2], "POST", "/api/v1/notes", w->token, body, 201, &r);
		free(body);
		json_t *id = json_object_get(r.json, "id");
		if (ok && json_is_integer(id))
			t->id = (long long)json_integer_value(id);
		http_resp_free(&r);
		it_sleep_ms(20); /* spreads the writes over the workers' busy time */
		if (!t->id || i % 10 % 3 != 0 || i % 10 == 0)
			continue;
		it_sleep_ms(i * 37 % 400);
		char *path = it_asprintf("/api/v1/notes/%lld", t->id);
		const char *other = w->url[(i + 1) % 2];
		if (i % 10 == 9) {
			if (call(&w->o, other, "DELETE", path, w->token, NULL, 204, &r))
				t->deleted = true;
		} else {
			if (i % 10 == 3) {
				t->sver[t->nsec - 1]++;
			} else {
				t->tver++;
				for (int s = 0; s < t->nsec; s++)
					t->sver[s]++;
			}
			body = note_body(i, t);
			call(&w->o, other, "PUT", path, w->token, body, 200, &r);
			free(body);
		}
		http_resp_free(&r);
		free(path);
	}
	return NULL;
}

struct searcher {
	int k;
	const char *token;
	const char *url[2];
	atomic_bool *stop;
	struct outcome o;
};

/* Whether r is a search answer: an object with a "results" array of notes with ids. */
static bool search_shaped(const struct http_resp *r)
{
	json_t *res = json_object_get(r->json, "results");
	if (!json_is_array(res))
		return false;
	size_t i;
	json_t *hit;
	json_array_foreach(res, i, hit)
	{
		if (!json_is_integer(json_object_get(hit, "id")))
			return false;
	}
	return true;
}

/* Keyword and hybrid searches for the notes' words on both servers until told to stop. */
static void *searcher_run(void *arg)
{
	struct searcher *s = arg;
	for (int n = 0; !atomic_load(s->stop); n++) {
		char word[16];
		word_of((n * 7 + s->k * 13) % NOTES, 0, word);
		char *path = it_asprintf("/api/v1/search?query=%s&mode=%s&top_k=10", word,
		                         n % 2 ? "hybrid" : "keyword");
		struct http_resp r;
		if (call(&s->o, s->url[(n / 2 + s->k) % 2], "GET", path, s->token, NULL, 200, &r) &&
		    !search_shaped(&r))
			fail_at(&s->o, "search answer without a results array of notes", &r);
		http_resp_free(&r);
		free(path);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Helpers */

/* GET /api/v1/search for word in mode (top 5) on s into r; asserts 200 and the shape. */
static void search(struct server *s, const char *word, const char *mode, struct http_resp *r)
{
	char *path = it_asprintf("/api/v1/search?query=%s&mode=%s&top_k=5", word, mode);
	api(s, "GET", path, me.access, NULL, r);
	cr_assert_eq(r->status, 200, "%s on %s: %d %.300s", path, s->base_url, r->status, r->body);
	cr_assert(search_shaped(r), "%s: %.300s", path, r->body);
	free(path);
}

static long long top_id(const struct http_resp *r)
{
	json_t *hit = json_array_get(json_object_get(r->json, "results"), 0);
	return hit ? (long long)json_integer_value(json_object_get(hit, "id")) : 0;
}

static bool has_id(const struct http_resp *r, long long id)
{
	size_t i;
	json_t *hit;
	json_array_foreach(json_object_get(r->json, "results"), i, hit)
	{
		if ((long long)json_integer_value(json_object_get(hit, "id")) == id)
			return true;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Times the log of s holds an event line named event. */
static int count_events(const struct server *s, const char *event)
{
	char *log = server_log(s);
	char *pat = it_asprintf("\"event\":\"%s\"", event);
	int n = 0;
	for (const char *p = log; (p = strstr(p, pat)); p++)
		n++;
	free(pat);
	free(log);
	return n;
}

/* ------------------------------------------------------------------ */
/* Two servers, two workers, one database */

Test(scale, two_servers_two_workers_one_database)
{
	rec = rec_start();
	char *base_kv = it_asprintf("OPENAI_BASE_URL=%s", rec->url);
	/* Small batches: the two workers take turns at the queue many times. */
	const char *env_a[] = {"EMBEDDING_PROVIDER=openai",
	                       "EMBEDDING_MODEL=fake-embed-scale",
	                       "EMBEDDING_DIM=256",
	                       "OPENAI_API_KEY=sk-test-scale",
	                       "EMBED_BATCH_SIZE=4",
	                       base_kv,
	                       NULL,
	                       NULL,
	                       NULL};
	static const char *const no_worker[] = {"serve", "--no-worker", NULL};
	static const char *const serve[] = {"serve", NULL};
	process_start(&srv_a, env_a, no_worker, "server_started");
	char *db_kv = it_asprintf("DATABASE_URL=%s", srv_a.db_url);
	env_a[6] = db_kv;
	env_a[7] = "EMBED_WORKER=false";
	process_start(&srv_b, env_a, serve, "server_started");
	worker_start(&work1, env_a);
	worker_start(&work2, env_a);
	user_new(&srv_a, &me);

	static struct tnote notes[NOTES];
	memset(notes, 0, sizeof(notes));
	for (int i = 0; i < NOTES; i++) {
		notes[i].nsec = 1 + i % 3;
		notes[i].long_first = i % 4 == 0;
	}
	atomic_bool stop = false;
	struct writer wr[WRITERS];
	struct searcher se[SEARCHERS];
	pthread_t wt[WRITERS], st[SEARCHERS];
	for (int k = 0; k < SEARCHERS; k++) {
		se[k] = (struct searcher){.k = k,
		                          .token = me.access,
		                          .url = {srv_a.base_url, srv_b.base_url},
		                          .stop = &stop};
		pthread_create(&st[k], NULL, searcher_run, &se[k]);
	}
	for (int k = 0; k < WRITERS; k++) {
		wr[k] = (struct writer){.k = k,
		                        .notes = notes,
		                        .token = me.access,
		                        .url = {srv_a.base_url, srv_b.base_url}};
		pthread_create(&wt[k], NULL, writer_run, &wr[k]);
	}
	for (int k = 0; k < WRITERS; k++)
		pthread_join(wt[k], NULL);
	atomic_store(&stop, true);
	for (int k = 0; k < SEARCHERS; k++)
		pthread_join(st[k], NULL);
	for (int k = 0; k < WRITERS; k++)
		cr_assert_eq(wr[k].o.errors, 0, "writer %d: %d of %d requests failed; first: %s", k,
		             wr[k].o.errors, wr[k].o.requests, wr[k].o.first);
	int searches = 0;
	for (int k = 0; k < SEARCHERS; k++) {
		cr_assert_eq(se[k].o.errors, 0, "searcher %d: %d of %d searches failed; first: %s",
		             k, se[k].o.errors, se[k].o.requests, se[k].o.first);
		searches += se[k].o.requests;
	}
	cr_assert_gt(searches, 2 * SEARCHERS, "only %d searches ran during the writes", searches);

	/* The workers drain the queue: nothing pending or failed, as both servers see it. */
	struct it_index ia, ib;
	index_wait_settled(&srv_a, me.access, 30000, &ia);
	index_status(&srv_b, me.access, &ib);
	cr_assert_eq(ia.failed, 0, "%lld chunks failed to embed", ia.failed);
	cr_assert(ib.pending == 0 && ib.ready == ia.ready && ib.failed == 0,
	          "server B sees pending %lld ready %lld failed %lld, A ready %lld", ib.pending,
	          ib.ready, ib.failed, ia.ready);

	/*
	 * What was embedded. Chunk inputs hold the title, a newline and the
	 * heading trail; search queries (single words) hold no newline.
	 *
	 * Exactly once, over everything: no text reached the provider twice.
	 * A chunk is leased to one worker at a time, and a write that keeps a
	 * section keeps its chunk (same hash: same vector, or the same pending
	 * row), so nothing legitimately sends one text twice. An update sends
	 * the NEW text of what it changed; whether the old text went out too
	 * depends on whether a worker had claimed it first (then its vector is
	 * dropped, the hash no longer matching). Likewise a deleted note's
	 * chunks went out or not, depending on timing. Those texts carry
	 * markers no longer current, so they are counted apart below.
	 */
	pthread_mutex_lock(&rec->mu);
	size_t nrec = rec->n;
	char **texts = calloc(nrec + 1, sizeof(char *));
	cr_assert(texts);
	size_t nchunks = 0;
	for (size_t i = 0; i < nrec; i++)
		if (strchr(rec->texts[i], '\n'))
			texts[nchunks++] = it_strdup(rec->texts[i]);
	pthread_mutex_unlock(&rec->mu);
	qsort(texts, nchunks, sizeof(char *), cmp_str);
	for (size_t i = 1; i < nchunks; i++)
		cr_assert_str_neq(texts[i - 1], texts[i], "embedded twice: %.200s", texts[i]);

	/*
	 * Every current section was embedded: one chunk for a short section,
	 * two or more for a long one, and the texts of current sections are
	 * exactly the user's ready chunks, none missing, none extra.
	 */
	long long current = 0;
	int sections = 0;
	for (int i = 0; i < NOTES; i++) {
		if (notes[i].deleted)
			continue;
		for (int s = 0; s < notes[i].nsec; s++) {
			char marker[MARKER_MAX], title[64];
			char word[16];
			marker_of(i, s, notes[i].sver[s], marker);
			word_of(i, notes[i].tver, word);
			snprintf(title, sizeof(title), "%s field notes\n", word);
			int n = 0;
			for (size_t j = 0; j < nchunks; j++)
				if (strstr(texts[j], marker)) {
					cr_assert(strncmp(texts[j], title, strlen(title)) == 0,
					          "section %s embedded under another title: %.200s",
					          marker, texts[j]);
					n++;
				}
			bool is_long = s == 0 && notes[i].long_first;
			if (is_long)
				cr_assert_geq(n, 2, "long section %s: %d chunks embedded", marker,
				              n);
			else
				cr_assert_eq(n, 1, "section %s: %d chunks embedded, expected 1",
				             marker, n);
			current += n;
			sections++;
		}
	}
	cr_assert_eq(current, ia.ready,
	             "%lld texts of current sections embedded, but %lld chunks ready (%d sections, "
	             "%zu chunk texts embedded in all)",
	             current, ia.ready, sections, nchunks);
	for (size_t i = 0; i < nchunks; i++)
		free(texts[i]);
	free(texts);

	/*
	 * Both servers search the same vectors, whichever process wrote them:
	 * each surviving note is the top semantic and hybrid result for its
	 * word on A and on B; a deleted note is found by no mode on either.
	 */
	struct server *both[2] = {&srv_a, &srv_b};
	static const char *const modes[] = {"semantic", "hybrid", "keyword"};
	for (int i = 0; i < NOTES; i++) {
		char word[16];
		word_of(i, notes[i].tver, word);
		for (int m = 0; m < 3; m++) {
			if (!notes[i].deleted && m == 2)
				continue;
			for (int k = 0; k < 2; k++) {
				struct http_resp r;
				search(both[k], word, modes[m], &r);
				if (notes[i].deleted)
					cr_assert(
					    !has_id(&r, notes[i].id),
					    "deleted note %lld found by %s search on %s: %.300s",
					    notes[i].id, modes[m], both[k]->base_url, r.body);
				else
					cr_assert_eq(
					    top_id(&r), notes[i].id,
					    "%s search for %s on %s: top %lld, expected %lld: "
					    "%.300s",
					    modes[m], word, both[k]->base_url, top_id(&r),
					    notes[i].id, r.body);
				http_resp_free(&r);
			}
		}
	}

	/* The servers ran no worker of their own: the worker processes did all of it. */
	cr_assert_eq(count_events(&srv_a, "embed_worker_started"), 0, "serve --no-worker ran one");
	cr_assert_eq(count_events(&srv_b, "embed_worker_started"), 0,
	             "serve with EMBED_WORKER=false ran one");
	server_stop_ok(&srv_a);
	server_stop_ok(&srv_b);
	worker_stop_ok(&work1);
	worker_stop_ok(&work2);
	free(db_kv);
	free(base_kv);
}

/* ------------------------------------------------------------------ */
/* One refresh token, two servers, the same instant */

struct racer {
	const char *base_url;
	const char *body;
	pthread_barrier_t *start;
	struct http_resp r;
};

static void *racer_run(void *arg)
{
	struct racer *x = arg;
	struct http_req q = {.method = "POST",
	                     .path = "/api/v1/auth/refresh",
	                     .body = x->body,
	                     .body_len = strlen(x->body)};
	pthread_barrier_wait(x->start);
	http_do(x->base_url, &q, &x->r);
	return NULL;
}

static int refresh_status(struct server *s, const char *token)
{
	struct http_resp r;
	char *body = it_jpack("{s:s}", "refresh_token", token);
	int st = api(s, "POST", "/api/v1/auth/refresh", NULL, body, &r);
	http_resp_free(&r);
	free(body);
	return st;
}

Test(scale, refresh_race_two_servers)
{
	enum { ROUNDS = 6 };
	static const char *const serve[] = {"serve", NULL};
	process_start(&srv_a, NULL, serve, "server_started");
	char *db_kv = it_asprintf("DATABASE_URL=%s", srv_a.db_url);
	const char *env_b[] = {db_kv, NULL};
	process_start(&srv_b, env_b, serve, "server_started");
	user_new(&srv_a, &me);
	/* Another login of the same user: a family the races must not touch. */
	struct it_user aside = me;
	aside.access = aside.refresh = NULL;
	user_login(&srv_b, &aside);

	for (int round = 0; round < ROUNDS; round++) {
		user_login(round % 2 ? &srv_b : &srv_a, &me); /* a fresh family each round */
		char *body = it_jpack("{s:s}", "refresh_token", me.refresh);
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, 2);
		struct racer x[2] = {{.base_url = srv_a.base_url, .body = body, .start = &start},
		                     {.base_url = srv_b.base_url, .body = body, .start = &start}};
		pthread_t th[2];
		for (int k = 0; k < 2; k++)
			pthread_create(&th[k], NULL, racer_run, &x[k]);
		for (int k = 0; k < 2; k++)
			pthread_join(th[k], NULL);
		pthread_barrier_destroy(&start);

		int win = x[0].r.status == 200 ? 0 : 1, lose = 1 - win;
		cr_assert(
		    x[win].r.status == 200 && x[lose].r.status == 401,
		    "round %d: A answered %d (%.200s), B %d (%.200s); expected one 200 and one "
		    "401",
		    round, x[0].r.status, x[0].r.body, x[1].r.status, x[1].r.body);
		assert_error_body(&x[lose].r, "the losing refresh");
		const char *access = resp_str(&x[win].r, "access_token");
		const char *fresh = resp_str(&x[win].r, "refresh_token");
		cr_assert(access && fresh, "round %d: tokens missing: %.300s", round,
		          x[win].r.body);

		/*
		 * The loser found the token used a moment ago, within
		 * REFRESH_REUSE_GRACE_SECONDS: a race, not a replay, so the family
		 * stands and the winner's new refresh token works on either server.
		 */
		struct server *other = win == 0 ? &srv_b : &srv_a;
		cr_assert_eq(refresh_status(other, fresh), 200,
		             "round %d: the loser of the race revoked the winner's login", round);
		struct http_resp r;
		api(other, "GET", "/api/v1/auth/me", access, NULL, &r);
		cr_assert_eq(r.status, 200, "round %d: the winner's access token: %d", round,
		             r.status);
		http_resp_free(&r);
		for (int k = 0; k < 2; k++)
			http_resp_free(&x[k].r);
		free(body);
	}
	/* No race was taken for a replay; the aside family lives on. */
	int reuses = count_events(&srv_a, "refresh_token_reuse") +
	             count_events(&srv_b, "refresh_token_reuse");
	cr_assert_eq(reuses, 0, "%d refresh_token_reuse events for %d races", reuses, ROUNDS);
	cr_assert_eq(refresh_status(&srv_a, aside.refresh), 200,
	             "a login untouched by the races lost its refresh token");
	user_free(&aside);
	server_stop_ok(&srv_a);
	server_stop_ok(&srv_b);
	free(db_kv);
}

/* ------------------------------------------------------------------ */
/* PostgreSQL: an exhausted pool answers 503 in bounded time */

/* The count a one-number query answers on url, or -1 if it fails. */
static long long pg_count(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r = PQexec(c, sql);
	long long n = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
	                  ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
	                  : -1;
	PQclear(r);
	PQfinish(c);
	return n;
}

struct poster {
	const char *base_url;
	const char *token;
	struct http_resp r;
};

static void *poster_run(void *arg)
{
	struct poster *p = arg;
	static const char body[] = "{\"title\": \"waits for the lock\"}";
	struct http_req q = {.method = "POST",
	                     .path = "/api/v1/notes",
	                     .token = p->token,
	                     .body = body,
	                     .body_len = sizeof(body) - 1};
	http_do(p->base_url, &q, &p->r);
	return NULL;
}

Test(scale, pool_exhaustion_answers_503_in_bounded_time)
{
	if (!it_pg())
		cr_skip_test("PostgreSQL's pool (SQLite has no pool to exhaust)");
	/* No worker: its polling would compete for the only connection. */
	const char *env[] = {"DB_POOL_SIZE=1",
	                     "DB_MAX_OVERFLOW=0",
	                     "DB_POOL_TIMEOUT_SECONDS=1",
	                     "DB_STATEMENT_TIMEOUT_SECONDS=10",
	                     "EMBED_WORKER=false",
	                     NULL};
	server_start(&srv_a, env);
	user_new(&srv_a, &me);
	note_create(&srv_a, me.access, "{\"title\": \"before the lock\"}");

	struct it_db_lock *lock = it_db_lock(&srv_a);
	struct poster p = {.base_url = srv_a.base_url, .token = me.access};
	pthread_t th;
	pthread_create(&th, NULL, poster_run, &p);
	/* The POST holds the only connection once its INSERT waits for the lock. */
	double deadline = it_now_ms() + 5000;
	while (pg_count(srv_a.db_url, "SELECT count(*) FROM pg_locks WHERE NOT granted AND "
	                              "relation = 'notes'::regclass") < 1) {
		if (it_now_ms() > deadline) {
			it_db_unlock(lock);
			pthread_join(th, NULL);
			cr_fatal("the POST never waited on the notes lock (status %d)", p.r.status);
		}
		it_sleep_ms(10);
	}

	struct http_resp r;
	double t0 = it_now_ms();
	api(&srv_a, "GET", "/api/v1/notes", me.access, NULL, &r);
	double ms = it_now_ms() - t0;
	it_db_unlock(lock);
	pthread_join(th, NULL);
	cr_assert_eq(r.status, 503, "GET with the pool exhausted: %d after %.0f ms: %.300s",
	             r.status, ms, r.body);
	assert_error_body(&r, "pool exhausted");
	/* It waited out DB_POOL_TIMEOUT_SECONDS, no more: a bound on a hang, not a benchmark. */
	cr_assert(ms >= 800 && ms < 4000, "503 after %.0f ms, expected about 1000", ms);
	http_resp_free(&r);

	cr_assert_eq(p.r.status, 201, "the POST that waited for the lock: %d %.300s", p.r.status,
	             p.r.body);
	http_resp_free(&p.r);
	api(&srv_a, "GET", "/api/v1/notes", me.access, NULL, &r);
	cr_assert_eq(r.status, 200, "GET after the lock: %d %.300s", r.status, r.body);
	json_t *total = json_object_get(r.json, "total");
	cr_assert(json_is_integer(total) && json_integer_value(total) == 2, "notes: %.300s",
	          r.body);
	http_resp_free(&r);
	server_stop_ok(&srv_a);
}

/* ------------------------------------------------------------------ */
/* PostgreSQL restarts under write load */

#define RESTART_WRITERS   4
#define RESTART_MAX_NOTES 2000
#define REQUEST_BOUND_MS  8000 /* a request slower than this counts as a hang */
#define RECOVERY_BOUND_MS 3000 /* from the database answering again to the next 201 */

struct restart_writer {
	int k;
	const char *base_url;
	const char *token;
	atomic_bool *stop;
	struct outcome o;
	int n;                              /* notes acknowledged (201) */
	long long ids[RESTART_MAX_NOTES];   /* their ids */
	char titles[RESTART_MAX_NOTES][32]; /* and titles */
	double ok_ms[RESTART_MAX_NOTES];    /* it_now_ms() when each 201 arrived */
	int unavailable;                    /* clean 503s */
};

struct listed {
	long long id;
	char *title;
};

static int cmp_listed(const void *a, const void *b)
{
	long long x = ((const struct listed *)a)->id, y = ((const struct listed *)b)->id;
	return x < y ? -1 : x > y;
}

/* Every note of token's user, by id, from GET /api/v1/notes page by page; caller frees. */
static struct listed *list_all(struct server *s, const char *token, size_t *n)
{
	struct listed *out = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		char *path = it_asprintf("/api/v1/notes?skip=%zu&limit=100", *n);
		struct http_resp r;
		api(s, "GET", path, token, NULL, &r);
		cr_assert_eq(r.status, 200, "%s: %d %.200s", path, r.status, r.body);
		json_t *items = json_object_get(r.json, "items");
		cr_assert(json_is_array(items), "%s: %.200s", path, r.body);
		size_t got = json_array_size(items), i;
		json_t *it;
		if (*n + got > cap) {
			cap = 2 * (*n + got);
			out = realloc(out, cap * sizeof(*out));
			cr_assert(out);
		}
		json_array_foreach(items, i, it)
		{
			const char *title = json_string_value(json_object_get(it, "title"));
			out[*n].id = (long long)json_integer_value(json_object_get(it, "id"));
			out[(*n)++].title = it_strdup(title ? title : "");
		}
		http_resp_free(&r);
		free(path);
		if (got < 100)
			break;
	}
	qsort(out, *n, sizeof(*out), cmp_listed);
	return out;
}

/* POSTs notes until told to stop; each answer must be 201, or 503 with a JSON detail. */
static void *restart_writer_run(void *arg)
{
	struct restart_writer *w = arg;
	for (int seq = 0; !atomic_load(w->stop) && w->n < RESTART_MAX_NOTES; seq++) {
		char title[32];
		snprintf(title, sizeof(title), "restart w%d n%d", w->k, seq);
		char *body =
		    it_jpack("{s:s, s:s}", "title", title, "content", "written under load");
		struct http_req q = {.method = "POST",
		                     .path = "/api/v1/notes",
		                     .token = w->token,
		                     .body = body,
		                     .body_len = strlen(body),
		                     .timeout_ms = REQUEST_BOUND_MS};
		struct http_resp r;
		http_do(w->base_url, &q, &r);
		w->o.requests++;
		json_t *id = json_object_get(r.json, "id");
		if (r.status == 201 && json_is_integer(id)) {
			w->ids[w->n] = (long long)json_integer_value(id);
			w->ok_ms[w->n] = it_now_ms();
			snprintf(w->titles[w->n++], sizeof(w->titles[0]), "%s", title);
		} else if (r.status == 503 && json_is_string(json_object_get(r.json, "detail"))) {
			w->unavailable++;
			it_sleep_ms(20); /* as a client backs off */
		} else {
			fail_at(&w->o, title, &r);
		}
		http_resp_free(&r);
		free(body);
	}
	return NULL;
}

Test(scale, postgres_restart_during_write_load)
{
	const char *cmd = getenv("VAULT_TEST_PG_RESTART");
	if (!it_pg())
		cr_skip_test("restarting PostgreSQL (the backend under test is SQLite)");
	if (!cmd || !*cmd)
		cr_skip_test(
		    "it restarts the shared PostgreSQL: scripts/test runs it on its own with "
		    "VAULT_TEST_PG_RESTART=\"scripts/pg restart\"");
	const char *env[] = {"DB_POOL_TIMEOUT_SECONDS=2", "DB_STATEMENT_TIMEOUT_SECONDS=5", NULL};
	server_start(&srv_a, env);
	user_new(&srv_a, &me);

	atomic_bool stop = false;
	static struct restart_writer w[RESTART_WRITERS];
	pthread_t th[RESTART_WRITERS];
	for (int k = 0; k < RESTART_WRITERS; k++) {
		memset(&w[k], 0, sizeof(w[k]));
		w[k].k = k;
		w[k].base_url = srv_a.base_url;
		w[k].token = me.access;
		w[k].stop = &stop;
		pthread_create(&th[k], NULL, restart_writer_run, &w[k]);
	}
	it_sleep_ms(1500);
	char *out = it_asprintf("%s/restart.log", srv_a.dir);
	char *shell = it_asprintf("(%s) >%s 2>&1", cmd, out);
	double t_cmd = it_now_ms();
	int rc = system(shell);
	double restarted = it_now_ms();
	it_sleep_ms(RECOVERY_BOUND_MS + 1000);
	atomic_store(&stop, true);
	for (int k = 0; k < RESTART_WRITERS; k++)
		pthread_join(th[k], NULL);
	cr_assert_eq(rc, 0, "%s failed (%d); see %s", cmd, rc, out);

	int acked = 0, unavailable = 0;
	double recovered = -1; /* the first 201 after the restart command returned */
	for (int k = 0; k < RESTART_WRITERS; k++) {
		cr_assert_eq(w[k].o.errors, 0,
		             "writer %d: %d of %d answers were neither 201 nor a 503 JSON error; "
		             "first: %s",
		             k, w[k].o.errors, w[k].o.requests, w[k].o.first);
		acked += w[k].n;
		unavailable += w[k].unavailable;
		for (int i = 0; i < w[k].n; i++)
			if (w[k].ok_ms[i] > restarted &&
			    (recovered < 0 || w[k].ok_ms[i] < recovered))
				recovered = w[k].ok_ms[i];
	}
	/* Writes succeed again soon after the database is back, without restarting vault. */
	cr_assert(recovered > 0 && recovered - restarted < RECOVERY_BOUND_MS,
	          "no write succeeded within %d ms of the restart (%.0f; %d acknowledged, %d "
	          "answered 503)\n%s",
	          RECOVERY_BOUND_MS, recovered < 0 ? -1 : recovered - restarted, acked, unavailable,
	          server_log_tail(&srv_a));

	/*
	 * Every acknowledged note is there, as written: all of them in the
	 * list, and those acknowledged around the restart read one by one.
	 */
	size_t nlisted;
	struct listed *all = list_all(&srv_a, me.access, &nlisted);
	for (int k = 0; k < RESTART_WRITERS; k++) {
		for (int i = 0; i < w[k].n; i++) {
			struct listed key = {.id = w[k].ids[i]};
			struct listed *hit = bsearch(&key, all, nlisted, sizeof(*all), cmp_listed);
			cr_assert(hit, "acknowledged note %lld (%s) is missing", key.id,
			          w[k].titles[i]);
			cr_assert_str_eq(hit->title, w[k].titles[i], "note %lld", key.id);
			if (w[k].ok_ms[i] < t_cmd - 1000 || w[k].ok_ms[i] > restarted + 1000)
				continue;
			struct http_resp r;
			note_get(&srv_a, me.access, key.id, &r);
			cr_assert_eq(r.status, 200, "acknowledged note %lld: %d %.200s", key.id,
			             r.status, r.body);
			cr_assert_str_eq(resp_str(&r, "title"), w[k].titles[i]);
			http_resp_free(&r);
		}
	}
	for (size_t i = 0; i < nlisted; i++)
		free(all[i].title);
	free(all);
	free(shell);
	free(out);
	server_stop_ok(&srv_a);
}
