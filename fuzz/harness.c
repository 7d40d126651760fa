/*
 * harness.c - the in-process server of the HTTP-level fuzz targets (see
 * harness.h).
 */
#include "harness.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/security.h"
#include "core/timeutil.h"
#include "fuzz.h"
#include "http/server.h"
#include "services/auth.h"
#include "services/notes.h"
#include "services/services.h"
#include "services/worker.h"

#define NOTE_TITLE   "Fuzzing notes"
#define NOTE_CONTENT "# Plan\n\nKeep the **server** up: every [input](https://e.com) is a test.\n"

static struct {
	char dir[64];
	char base[64]; /* http://127.0.0.1:<port> */
	struct config cfg;
	struct store *store;
	struct svc svc;
	struct http_server *server;
	CURL *curl;
	unsigned accounts; /* made so far, for unique e-mails */
	FILE *log;
} h;

static void stop(void)
{
	char path[96];
	http_server_stop(h.server, 1000);
	curl_easy_cleanup(h.curl);
	svc_cleanup(&h.svc);
	store_close(h.store);
	config_free(&h.cfg);
	fclose(h.log);
	for (const char *const *f =
	         (const char *const[]){"vault.db", "vault.db-wal", "vault.db-shm", NULL};
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", h.dir, *f);
		unlink(path);
	}
	rmdir(h.dir);
}

static void start(void)
{
	struct verror err;
	int applied;
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(h.dir, sizeof(h.dir), "%s/vault-fuzz-XXXXXX", tmp);
	CHECK(mkdtemp(h.dir), "mkdtemp");
	char *db = xasprintf("DATABASE_URL=sqlite:///%s/vault.db", h.dir);
	char *const env[] = {db, "SECRET_KEY=fuzz-harness-secret-key-0123456789abcdefghijklmnop",
	                     "HOST=127.0.0.1", "PORT=0", "BCRYPT_ROUNDS=4",
	                     /* Past a rate limit every login is a 429: keep the rules reachable. */
	                     "AUTH_RATE_PER_MINUTE=1000000", "LOGIN_RATE_PER_MINUTE=1000000",
	                     "LOG_LEVEL=error", "EMBED_WORKER=false", NULL};
	CHECK(config_load(&h.cfg, env, NULL, &err) == VERR_OK, "config: %s", err.detail);
	free(db);
	/* The 503s of /ask log at error level: one line per input would drown the run. */
	h.log = fopen("/dev/null", "w");
	CHECK(h.log, "/dev/null");
	log_init(h.cfg.log_level, h.cfg.log_format, h.log);
	struct store_opts opts = {.busy_timeout_ms = 5000, .synchronous_normal = true};
	CHECK(store_open(h.cfg.database_url, &opts, &h.store, &err) == VERR_OK &&
	          store_migrate_up(h.store, -1, &applied, &err) == VERR_OK &&
	          svc_init(&h.svc, h.store, &h.cfg, &err) == VERR_OK &&
	          http_server_start(&h.cfg, &h.svc, &h.server, &err) == VERR_OK,
	      "start: %s", err.detail);
	snprintf(h.base, sizeof(h.base), "http://127.0.0.1:%d", http_server_port(h.server));
	CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, "curl");
	h.curl = curl_easy_init();
	CHECK(h.curl, "curl");
	atexit(stop);
}

void harness_account(struct account *a)
{
	struct verror err;
	struct user u;
	struct note n;
	size_t embedded, failed;
	if (!h.curl)
		start();
	char email[64];
	snprintf(email, sizeof(email), "fuzz%u@example.com", h.accounts++);
	CHECK(store_user_create(h.store, email, h.svc.dummy_hash, time_now_ms(), &u, &err) ==
	          VERR_OK,
	      "account: %s", err.detail);
	const char *tags[] = {"fuzz", "plans"};
	struct note_fields f = {NOTE_TITLE, NOTE_CONTENT, tags, 2, true};
	CHECK(notes_create(&h.svc, u.id, &f, &n, &err) == VERR_OK, "note: %s", err.detail);
	CHECK(embed_worker_run_once(&h.svc, &embedded, &failed, &err) == VERR_OK, "embedding: %s",
	      err.detail);
	a->user_id = u.id;
	a->note_id = n.id;
	note_free(&n);
	char *token = jwt_issue(h.cfg.secret_key, u.id, time_now_ms() / 1000, 600);
	a->authorization = xasprintf("Bearer %s", token);
	free(token);
}

struct svc *harness_svc(void)
{
	if (!h.curl)
		start();
	return &h.svc;
}

void harness_account_end(struct account *a)
{
	struct verror err;
	CHECK(auth_user_delete(&h.svc, a->user_id, &err) == VERR_OK, "delete: %s", err.detail);
	free(a->authorization);
	a->authorization = NULL;
}

struct body {
	char *p;
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct body *b = ud;
	b->p = xrealloc(b->p, b->len + size * n + 1);
	memcpy(b->p + b->len, p, size * n);
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

long harness_request(const char *method, const char *target, const char *authorization,
                     const char *body, size_t len, json_t **json)
{
	struct body resp = {0};
	struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
	char *auth = NULL, *url = xasprintf("%s%s", h.base, target);
	if (authorization)
		headers = curl_slist_append(headers,
		                            auth = xasprintf("Authorization: %s", authorization));
	if (body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_reset(h.curl);
	curl_easy_setopt(h.curl, CURLOPT_URL, url);
	curl_easy_setopt(h.curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h.curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h.curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h.curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h.curl, CURLOPT_TIMEOUT, 60L); /* libFuzzer's -timeout comes first */
	if (body) {
		curl_easy_setopt(h.curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	CURLcode rc = curl_easy_perform(h.curl);
	CHECK(rc == CURLE_OK, "%s %s: %s", method, target, curl_easy_strerror(rc));
	long status = 0;
	const char *type = NULL;
	curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h.curl, CURLINFO_CONTENT_TYPE, &type);
	bool api = strncmp(target, "/api/", 5) == 0, ask = strncmp(target, "/api/v1/ask", 11) == 0;
	bool is_json = type && strcmp(type, "application/json") == 0;

	CHECK(status < 500 || (status == 503 && ask), "%s %s: %ld %s", method, target, status,
	      resp.p ? resp.p : "");
	/* Everything but the web page's files is JSON. */
	CHECK(is_json || !resp.len || (!api && status / 100 == 2), "%s %s: %ld as %s", method,
	      target, status, type ? type : "nothing");
	*json = NULL;
	if (is_json) {
		json_error_t jerr;
		*json = json_loadb(resp.p, resp.len, 0, &jerr);
		CHECK(json_is_object(*json), "%s %s: %ld with a body that is no JSON object: %s",
		      method, target, status, jerr.text);
	}
	if (status >= 400)
		CHECK(json_is_string(json_object_get(*json, "detail")),
		      "%s %s: %ld without a detail", method, target, status);
	if (status == 503)
		CHECK(strncmp(json_string_value(json_object_get(*json, "detail")),
		              "AI service unavailable", 22) == 0,
		      "%s %s: 503 for another reason", method, target);
	curl_slist_free_all(headers);
	free(auth);
	free(url);
	free(resp.p);
	return status;
}
