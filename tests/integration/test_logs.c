/*
 * test_logs.c - the structured log: one JSON object per line with ts, level
 * and event; a "request" line per request with its fields; and no secret
 * (password, bcrypt hash, access or refresh token, SECRET_KEY) anywhere in
 * it, whatever the clients send. Bytes a client chooses (invalid UTF-8,
 * control characters) never cost a line its fields or start a fake line.
 */
#include "integration/harness.h"

#include <string.h>

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(logs, .fini = cleanup, .timeout = IT_TIMEOUT(60));

/* Calls fn on each line of the log parsed as JSON (NULL when it is not JSON). */
static void each_line(const char *log, void (*fn)(const char *line, json_t *j, void *ud), void *ud)
{
	char *copy = it_strdup(log);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		fn(line, j, ud);
		json_decref(j);
	}
	free(copy);
}

static void check_shape(const char *line, json_t *j, void *ud)
{
	int *n = ud;
	(*n)++;
	cr_expect(json_is_object(j), "log line is not a JSON object: %.300s", line);
	if (!json_is_object(j))
		return;
	const char *ts = json_string_value(json_object_get(j, "ts"));
	cr_expect(ts && it_is_iso_ms(ts), "log line ts \"%s\" not ISO 8601 UTC ms: %.300s", ts,
	          line);
	const char *level = json_string_value(json_object_get(j, "level"));
	cr_expect(level && (strcmp(level, "debug") == 0 || strcmp(level, "info") == 0 ||
	                    strcmp(level, "warning") == 0 || strcmp(level, "error") == 0),
	          "log line level \"%s\": %.300s", level, line);
	cr_expect(json_is_string(json_object_get(j, "event")), "log line without event: %.300s",
	          line);
}

static void expect_absent(const char *log, const char *secret, const char *what)
{
	if (!secret || !*secret)
		return;
	const char *hit = strstr(log, secret);
	if (!hit)
		return;
	const char *line = hit;
	while (line > log && line[-1] != '\n')
		line--;
	const char *end = strchr(hit, '\n');
	cr_expect(0, "the log contains %s:\n%.*s", what, (int)(end ? end - line : 400), line);
}

Test(logs, secrets_never_logged)
{
	server_start(&srv, NULL);
	/* Distinctive values, so a hit is unambiguous. */
	const char *password = "Log-Test-Pa55word-f00d";
	const char *wrong = "Wr0ng-Guess-cafe-babe";
	const char *new_user_pw = "Unregistered-Pw-8e3a";
	const char *too_long_pw =
	    "TooLong-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-xyz";
	struct http_resp r;

	char *body = it_jpack("{s:s, s:s}", "email", "logger@example.com", "password", password);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/register", NULL, body, &r), 201);
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/register", NULL, body, &r), 409);
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/login", NULL, body, &r), 200);
	char *access = it_strdup(resp_str(&r, "access_token"));
	char *refresh0 = it_strdup(resp_str(&r, "refresh_token"));
	http_resp_free(&r);
	free(body);

	char *rbody = it_jpack("{s:s}", "refresh_token", refresh0);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/refresh", NULL, rbody, &r), 200);
	char *access1 = it_strdup(resp_str(&r, "access_token"));
	char *refresh1 = it_strdup(resp_str(&r, "refresh_token"));
	http_resp_free(&r);
	/* Reuse of the rotated token: 401, family revoked (a security event worth logging). */
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/refresh", NULL, rbody, &r), 401);
	http_resp_free(&r);
	free(rbody);

	body = it_jpack("{s:s, s:s}", "email", "logger@example.com", "password", wrong);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/login", NULL, body, &r), 401);
	http_resp_free(&r);
	free(body);
	body = it_jpack("{s:s, s:s}", "email", "nobody@example.com", "password", new_user_pw);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/login", NULL, body, &r), 401);
	http_resp_free(&r);
	free(body);
	body = it_jpack("{s:s, s:s}", "email", "long@example.com", "password", too_long_pw);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/register", NULL, body, &r), 422);
	http_resp_free(&r);
	free(body);
	/* Secrets inside broken bodies, which a careless error path might echo. */
	char *broken =
	    it_asprintf("{\"email\":\"logger@example.com\",\"password\":\"%s\"", password);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/login", NULL, broken, &r), 422);
	http_resp_free(&r);
	free(broken);
	broken = it_asprintf("{\"email\":\"logger@example.com\",\"password\":[\"%s\"]}", password);
	api(&srv, "POST", "/api/v1/auth/login", NULL, broken, &r);
	http_resp_free(&r);
	free(broken);
	/* Tokens on authenticated calls, valid and not. */
	cr_assert_eq(api(&srv, "GET", "/api/v1/auth/me", access, NULL, &r), 200);
	http_resp_free(&r);
	char *tampered = it_asprintf("%sx", access1);
	cr_assert_eq(api(&srv, "GET", "/api/v1/auth/me", tampered, NULL, &r), 401);
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes?tag=x", refresh1, NULL, &r), 401);
	http_resp_free(&r);
	body = it_jpack("{s:s}", "refresh_token", refresh1);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/logout", access1, body, &r), 204);
	http_resp_free(&r);
	free(body);
	server_stop_ok(&srv);

	char *log = server_log(&srv);
	cr_assert(strstr(log, "\"request\""), "no request lines at all: is the log captured?");
	expect_absent(log, password, "the password");
	expect_absent(log, wrong, "a wrong password");
	expect_absent(log, new_user_pw, "the password of a failed login");
	expect_absent(log, too_long_pw, "a refused password");
	expect_absent(log, "$2b$", "a bcrypt hash");
	expect_absent(log, "$2a$", "a bcrypt hash");
	expect_absent(log, "$2y$", "a bcrypt hash");
	expect_absent(log, TEST_SECRET_KEY, "SECRET_KEY");
	expect_absent(log, access, "an access token");
	expect_absent(log, access1, "an access token");
	expect_absent(log, strrchr(access, '.') + 1, "an access token's signature");
	expect_absent(log, tampered, "a presented (tampered) token");
	expect_absent(log, refresh0, "a refresh token");
	expect_absent(log, refresh1, "a refresh token");
	int lines = 0;
	each_line(log, check_shape, &lines);
	cr_assert(lines >= 15, "only %d log lines for %d requests", lines, 15);
	free(log);
	free(access);
	free(access1);
	free(refresh0);
	free(refresh1);
	free(tampered);
}

struct find_req {
	const char *request_id;
	json_t *found; /* the request line, incref'd */
	int count;
};

static void find_request(const char *line, json_t *j, void *ud)
{
	(void)line;
	struct find_req *f = ud;
	const char *ev = json_string_value(json_object_get(j, "event"));
	const char *rid = json_string_value(json_object_get(j, "request_id"));
	if (ev && strcmp(ev, "request") == 0 && rid && strcmp(rid, f->request_id) == 0) {
		f->count++;
		if (!f->found)
			f->found = json_incref(j);
	}
}

/* The one "request" line of a request id in log; fails if there is not exactly one. */
static json_t *request_line(const char *log, const char *rid)
{
	struct find_req f = {.request_id = rid};
	each_line(log, find_request, &f);
	cr_assert_eq(f.count, 1, "%d request lines with request_id %s, expected 1", f.count, rid);
	return f.found;
}

static void expect_request_line(json_t *j, const char *method, const char *path, int status,
                                long long user_id /* 0: anonymous */)
{
	char *dump = json_dumps(j, JSON_COMPACT);
	const char *m = json_string_value(json_object_get(j, "method"));
	cr_expect(m && strcmp(m, method) == 0, "method in %s", dump);
	const char *p = json_string_value(json_object_get(j, "path"));
	cr_expect(p && strcmp(p, path) == 0, "path, expected %s, in %s", path, dump);
	cr_expect(json_is_integer(json_object_get(j, "status")) &&
	              json_integer_value(json_object_get(j, "status")) == status,
	          "status, expected %d, in %s", status, dump);
	json_t *lat = json_object_get(j, "latency_ms");
	cr_expect(json_is_number(lat) && json_number_value(lat) >= 0, "latency_ms in %s", dump);
	cr_expect(json_object_get(j, "user_id") != NULL, "no user_id key in %s", dump);
	json_t *uid = json_object_get(j, "user_id");
	if (user_id) {
		char want[32];
		snprintf(want, sizeof(want), "%lld", user_id);
		bool ok = (json_is_integer(uid) && json_integer_value(uid) == user_id) ||
		          (json_is_string(uid) && strcmp(json_string_value(uid), want) == 0);
		cr_expect(ok, "user_id, expected %lld, in %s", user_id, dump);
	} else {
		cr_expect(uid == NULL || json_is_null(uid), "anonymous request has a user_id: %s",
		          dump);
	}
	cr_expect(json_string_value(json_object_get(j, "level")) != NULL, "level in %s", dump);
	free(dump);
}

Test(logs, request_lines_have_the_fields)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct {
		const char *method, *path, *body, *rid;
		bool auth;
		int status;
	} cases[] = {
	    {"GET", "/health", NULL, "rid-health-1", false, 200},
	    {"GET", "/api/v1/auth/me", NULL, "rid-me-1", true, 200},
	    {"POST", "/api/v1/notes", "{\"title\":\"logged\"}", "rid-create-1", true, 201},
	    {"GET", "/api/v1/notes", NULL, "rid-list-1", true, 200},
	    {"GET", "/api/v1/notes/424242", NULL, "rid-missing-1", true, 404},
	    {"GET", "/api/v1/notes", NULL, "rid-anon-1", false, 401},
	    {"POST", "/api/v1/notes", "{\"title\":5}", "rid-invalid-1", true, 422},
	    {"GET", "/no/such/route", NULL, "rid-404-1", false, 404},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *hdr = it_asprintf("X-Request-ID: %s", cases[i].rid);
		const char *const headers[] = {hdr, NULL};
		struct http_req q = {.method = cases[i].method,
		                     .path = cases[i].path,
		                     .headers = headers,
		                     .token = cases[i].auth ? u.access : NULL,
		                     .body = cases[i].body,
		                     .body_len = cases[i].body ? strlen(cases[i].body) : 0};
		struct http_resp r;
		http_req(&srv, &q, &r);
		cr_assert_eq(r.status, cases[i].status, "%s %s: %d", cases[i].method, cases[i].path,
		             r.status);
		http_resp_free(&r);
		free(hdr);
	}
	/* A generated id shows up in the log too. */
	struct http_resp r;
	http(&srv, "GET", "/ready", NULL, NULL, &r);
	char *gen =
	    it_strdup(http_header(&r, "X-Request-ID") ? http_header(&r, "X-Request-ID") : "none");
	http_resp_free(&r);
	server_stop_ok(&srv);

	char *log = server_log(&srv);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = request_line(log, cases[i].rid);
		expect_request_line(j, cases[i].method, cases[i].path, cases[i].status,
		                    cases[i].auth && cases[i].status != 401 ? u.id : 0);
		json_decref(j);
	}
	json_t *j = request_line(log, gen);
	expect_request_line(j, "GET", "/ready", 200, 0);
	json_decref(j);
	int lines = 0;
	each_line(log, check_shape, &lines);
	cr_assert(strstr(log, "\"server_started\"") && strstr(log, "\"server_stopped\""),
	          "server_started/server_stopped events missing");
	free(gen);
	free(log);
	user_free(&u);
}

Test(logs, non_utf8_path_keeps_every_field)
{
	server_start(&srv, NULL);
	static const struct {
		const char *sent, *logged, *rid;
	} cases[] = {
	    {"/api/v1/%ff", "/api/v1/\xEF\xBF\xBD", "rid-utf8-1"},
	    {"/x%c3", "/x\xEF\xBF\xBD", "rid-utf8-2"},
	    {"/%c0%afok", "/\xEF\xBF\xBD\xEF\xBF\xBDok", "rid-utf8-3"},
	    {"/caf%c3%a9", "/caf\xC3\xA9", "rid-utf8-4"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *hdr = it_asprintf("X-Request-ID: %s", cases[i].rid);
		const char *const headers[] = {hdr, NULL};
		struct http_resp r;
		cr_assert_eq(http(&srv, "GET", cases[i].sent, headers, NULL, &r), 404, "GET %s",
		             cases[i].sent);
		assert_error_body(&r, cases[i].sent);
		http_resp_free(&r);
		free(hdr);
	}
	server_stop_ok(&srv);
	char *log = server_log(&srv);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = request_line(log, cases[i].rid);
		expect_request_line(j, "GET", cases[i].logged, 404, 0);
		json_decref(j);
	}
	int lines = 0;
	each_line(log, check_shape, &lines);
	free(log);
}

Test(logs, console_format_escapes_control_characters)
{
	static const char *const env[] = {"LOG_FORMAT=console", NULL};
	server_start(&srv, env);
	const char *const headers[] = {"X-Request-ID: rid-console-1", NULL};
	struct http_resp r;
	http(&srv, "GET", "/x%0a2026-01-01T00:00:00.000Z%20error%20forged%0d%09%1b[2J%7f%5c",
	     headers, NULL, &r);
	cr_assert_eq(r.status, 404);
	http_resp_free(&r);
	cr_assert_eq(server_stop(&srv), 0);
	char *log = server_log(&srv);
	/* The forged "line" is still part of the request's own line. */
	char *copy = it_strdup(log), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		cr_expect(!strstr(line, "forged") || strstr(line, "request_id=rid-console-1"),
		          "a client's %%0a started a log line of its own: %s", line);
	free(copy);
	cr_assert(strstr(log, " request_id=rid-console-1 "), "no request line:\n%s", log);
	cr_assert(
	    strstr(log, " path=/x\\n2026-01-01T00:00:00.000Z error forged\\r\\t\\x1b[2J\\x7f\\\\ "),
	    "the path is not escaped as expected:\n%s", log);
	cr_assert(strstr(log, " server_stopped"), "no server_stopped line:\n%s", log);
	free(log);
}

static void count_sql(const char *line, json_t *j, void *ud)
{
	(void)line;
	int *n = ud;
	const char *ev = json_string_value(json_object_get(j, "event"));
	const char *sql = json_string_value(json_object_get(j, "sql"));
	if (ev && strcmp(ev, "sql") == 0) {
		n[0]++;
		n[1] += sql && it_contains(sql, "INSERT INTO notes", true);
	}
}

/* DATABASE_ECHO logs each statement's text, never the values bound to it. */
Test(logs, database_echo_logs_statements_not_values)
{
	server_start(&srv, (const char *const[]){"DATABASE_ECHO=true", NULL});
	struct it_user u;
	user_new(&srv, &u);
	const char *content = "echo-canary-7d1f: the safe code is 4417";
	char *body = it_jpack("{s:s, s:s}", "title", "echo", "content", content);
	note_create(&srv, u.access, body);
	free(body);
	server_stop_ok(&srv);
	char *log = server_log(&srv);
	int n[2] = {0};
	each_line(log, count_sql, n);
	cr_assert_gt(n[0], 0, "DATABASE_ECHO=true logged no statement");
	cr_assert_gt(n[1], 0, "the note's INSERT was not logged");
	expect_absent(log, content, "a note's content");
	expect_absent(log, u.password, "the password");
	expect_absent(log, "$2b$", "a bcrypt hash");
	expect_absent(log, u.refresh, "a refresh token");
	free(log);
	user_free(&u);
	server_cleanup(&srv);

	server_start(&srv, NULL);
	user_new(&srv, &u);
	server_stop_ok(&srv);
	log = server_log(&srv);
	memset(n, 0, sizeof(n));
	each_line(log, count_sql, n);
	cr_assert_eq(n[0], 0, "statements logged without DATABASE_ECHO");
	free(log);
	user_free(&u);
}
