/*
 * test_tokens.c - personal access tokens through the real server: create,
 * list and revoke; the token shown once and stored only as its SHA-256;
 * read tokens cannot write; no token manages tokens or the account;
 * expiry, revocation and account deletion take effect at once; another
 * user's token is 404; `vault token`; MCP over HTTP and stdio with read
 * and write tokens.
 */
#include "integration/harness.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <string.h>

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(tokens, .fini = cleanup, .timeout = IT_TIMEOUT(90));

/* POST /api/v1/tokens as access; asserts 201 and the answer's shape; caller frees. */
static char *token_new(const char *access, const char *name, const char *scope, long long *id_out)
{
	struct http_resp r;
	char *body = it_jpack("{s:s,s:s}", "name", name, "scope", scope);
	cr_assert_eq(api(&srv, "POST", "/api/v1/tokens", access, body, &r), 201, "%s", r.body);
	free(body);
	const char *token = resp_str(&r, "token");
	cr_assert(token && strncmp(token, "vault_pat_", 10) == 0 && strlen(token) == 53, "%s",
	          r.body);
	cr_expect_str_eq(resp_str(&r, "name"), name);
	cr_expect_str_eq(resp_str(&r, "scope"), scope);
	cr_expect(json_is_null(json_object_get(r.json, "last_used_at")), "%s", r.body);
	cr_expect(json_is_null(json_object_get(r.json, "expires_at")), "%s", r.body);
	if (id_out)
		*id_out = (long long)json_integer_value(json_object_get(r.json, "id"));
	char *out = it_strdup(token);
	http_resp_free(&r);
	return out;
}

static int status_of(const char *method, const char *path, const char *token, const char *body)
{
	struct http_resp r;
	int st = api(&srv, method, path, token, body, &r);
	if (st >= 400)
		assert_error_body(&r, path);
	http_resp_free(&r);
	return st;
}

/* One text cell of sql on the server's database, or NULL if no row; caller frees. */
static char *db_text(const char *sql)
{
	char *out = NULL;
	if (it_pg()) {
		PGconn *c = PQconnectdb(srv.db_url);
		PGresult *r = PQexec(c, sql);
		cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK ||
		              PQresultStatus(r) == PGRES_COMMAND_OK,
		          "%s", PQerrorMessage(c));
		if (PQntuples(r) > 0)
			out = it_strdup(PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db;
		sqlite3_stmt *st;
		char *path = it_asprintf("%s/vault.db", srv.dir);
		cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
		free(path);
		sqlite3_busy_timeout(db, 5000);
		cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
		             sqlite3_errmsg(db));
		int rc = sqlite3_step(st);
		cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s", sqlite3_errmsg(db));
		if (rc == SQLITE_ROW)
			out = it_strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	return out;
}

static void db_exec(const char *sql)
{
	free(db_text(sql));
}

static void sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n;
	cr_assert(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL));
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

Test(tokens, create_list_revoke_shown_once_hashed)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	long long id;
	char *token = token_new(u.access, "laptop script", "read", &id);

	/* It works as a bearer token, and the list shows it without the secret. */
	cr_expect_eq(status_of("GET", "/api/v1/notes", token, NULL), 200);
	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", "/api/v1/tokens", u.access, NULL, &r), 200, "%s", r.body);
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", r.body);
	json_t *t = json_array_get(items, 0);
	cr_expect_eq(json_integer_value(json_object_get(t, "id")), id);
	cr_expect_str_eq(json_string_value(json_object_get(t, "name")), "laptop script");
	cr_expect_str_eq(json_string_value(json_object_get(t, "scope")), "read");
	cr_expect(it_is_iso_ms(json_string_value(json_object_get(t, "created_at"))), "%s", r.body);
	cr_expect(it_is_iso_ms(json_string_value(json_object_get(t, "last_used_at"))), "%s",
	          r.body);
	cr_expect(json_is_null(json_object_get(t, "expires_at")));
	cr_expect(!json_object_get(t, "token") && !strstr(r.body, token + 10), "%s", r.body);
	char *first_use = it_strdup(json_string_value(json_object_get(t, "last_used_at")));
	http_resp_free(&r);

	/* Used again within the minute: last_used_at is not written again. */
	cr_expect_eq(status_of("GET", "/api/v1/notes", token, NULL), 200);
	cr_assert_eq(api(&srv, "GET", "/api/v1/tokens", u.access, NULL, &r), 200);
	cr_expect_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(r.json, "items"), 0), "last_used_at")),
	                 first_use);
	http_resp_free(&r);
	free(first_use);

	/* The database holds the SHA-256, never the token. */
	char hash[65];
	sha256_hex(token, hash);
	char *sql = it_asprintf("SELECT token_hash FROM api_tokens WHERE id = %lld", id);
	char *stored = db_text(sql);
	cr_expect_str_eq(stored, hash);
	free(stored);
	free(sql);
	sql = it_asprintf("SELECT count(*) FROM api_tokens WHERE token_hash LIKE '%%%s%%' OR "
	                  "name LIKE '%%%s%%'",
	                  token + 10, token + 10);
	stored = db_text(sql);
	cr_expect_str_eq(stored, "0");
	free(stored);
	free(sql);

	/* Revoked: 401 at once; a second revoke is 404. */
	char *path = it_asprintf("/api/v1/tokens/%lld", id);
	cr_expect_eq(status_of("DELETE", path, u.access, NULL), 204);
	cr_expect_eq(status_of("GET", "/api/v1/notes", token, NULL), 401);
	cr_expect_eq(status_of("DELETE", path, u.access, NULL), 404);
	cr_assert_eq(api(&srv, "GET", "/api/v1/tokens", u.access, NULL, &r), 200);
	cr_expect_eq(json_array_size(json_object_get(r.json, "items")), 0, "%s", r.body);
	http_resp_free(&r);

	/* Malformed and unknown tokens of the right form. */
	cr_expect_eq(status_of("GET", "/api/v1/notes", "vault_pat_short", NULL), 401);
	cr_expect_eq(status_of("GET", "/api/v1/notes",
	                       "vault_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL),
	             401);

	/* Nothing secret in the log. */
	char *log = server_log(&srv);
	cr_expect(!strstr(log, token + 10), "the token is in the log");
	free(log);
	free(path);
	free(token);
	user_free(&u);
	server_stop_ok(&srv);
}

Test(tokens, scopes)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	char *ro = token_new(u.access, "reader", "read", NULL);
	char *rw = token_new(u.access, "writer", "write", NULL);
	long long note = note_create(&srv, u.access, "{\"title\":\"kept\",\"content\":\"text\"}");
	char *npath = it_asprintf("/api/v1/notes/%lld", note);

	/* A read token reads and searches, and writes nothing. */
	cr_expect_eq(status_of("GET", "/api/v1/notes", ro, NULL), 200);
	cr_expect_eq(status_of("GET", npath, ro, NULL), 200);
	cr_expect_eq(status_of("POST", "/api/v1/search", ro, "{\"query\":\"kept\"}"), 200);
	cr_expect_eq(status_of("GET", "/api/v1/auth/me", ro, NULL), 200);
	cr_expect_eq(status_of("POST", "/api/v1/notes", ro, "{\"title\":\"no\"}"), 403);
	cr_expect_eq(status_of("PUT", npath, ro, "{\"title\":\"no\"}"), 403);
	cr_expect_eq(status_of("DELETE", npath, ro, NULL), 403);
	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", npath, u.access, NULL, &r), 200);
	cr_expect_str_eq(resp_str(&r, "title"), "kept");
	http_resp_free(&r);

	/* A write token writes. */
	cr_expect_eq(status_of("PUT", npath, rw, "{\"title\":\"changed\"}"), 200);
	long long other = note_create(&srv, rw, "{\"title\":\"by token\"}");
	char *opath = it_asprintf("/api/v1/notes/%lld", other);
	cr_expect_eq(status_of("DELETE", opath, rw, NULL), 204);

	/* Neither manages tokens or the account. */
	const char *const both[] = {ro, rw};
	for (int i = 0; i < 2; i++) {
		const char *t = both[i];
		cr_expect_eq(status_of("GET", "/api/v1/tokens", t, NULL), 403);
		cr_expect_eq(status_of("POST", "/api/v1/tokens", t,
		                       "{\"name\":\"more\",\"scope\":\"write\"}"),
		             403);
		cr_expect_eq(status_of("DELETE", "/api/v1/tokens/1", t, NULL), 403);
		cr_expect_eq(status_of("DELETE", "/api/v1/auth/me", t, NULL), 403);
		cr_expect_eq(status_of("POST", "/api/v1/auth/logout", t, NULL), 403);
		char *creds = it_jpack("{s:s,s:s}", "email", u.email, "password", u.password);
		cr_expect_eq(status_of("POST", "/api/v1/auth/login", t, creds), 403);
		free(creds);
		cr_expect_eq(status_of("POST", "/api/v1/auth/refresh", t, NULL), 403);
		cr_expect_eq(
		    status_of("POST", "/api/v1/auth/register", t,
		              "{\"email\":\"new@example.com\",\"password\":\"password1\"}"),
		    403);
	}
	/* The account is still there, and the login's token still manages tokens. */
	cr_expect_eq(status_of("GET", "/api/v1/auth/me", u.access, NULL), 200);
	cr_expect_eq(status_of("GET", "/api/v1/tokens", u.access, NULL), 200);
	free(opath);
	free(npath);
	free(ro);
	free(rw);
	user_free(&u);
	server_stop_ok(&srv);
}

Test(tokens, validation_and_limit)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	char *long_name = it_repeat("n", 101);
	char *too_long = it_jpack("{s:s,s:s}", "name", long_name, "scope", "read");
	const char *const bad[] = {
	    "{\"scope\":\"read\"}",
	    "{\"name\":\"\",\"scope\":\"read\"}",
	    "{\"name\":\"x\"}",
	    "{\"name\":\"x\",\"scope\":\"admin\"}",
	    "{\"name\":7,\"scope\":\"read\"}",
	    "{\"name\":\"tab\\there\",\"scope\":\"read\"}",
	    "{\"name\":\"x\",\"scope\":\"read\",\"expires_in_days\":0}",
	    "{\"name\":\"x\",\"scope\":\"read\",\"expires_in_days\":3651}",
	    "{\"name\":\"x\",\"scope\":\"read\",\"expires_in_days\":\"5\"}",
	    "{\"name\":\"x\",\"scope\":\"read\",\"expires_in_days\":1.5}",
	    too_long,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(status_of("POST", "/api/v1/tokens", u.access, bad[i]), 422, "%s",
		             bad[i]);
	free(too_long);
	free(long_name);

	/* expires_in_days sets the expiry that many days ahead. */
	struct http_resp r;
	cr_assert_eq(api(&srv, "POST", "/api/v1/tokens", u.access,
	                 "{\"name\":\"week\",\"scope\":\"read\",\"expires_in_days\":7}", &r),
	             201, "%s", r.body);
	int64_t created = it_parse_iso_ms(resp_str(&r, "created_at"));
	int64_t expires = it_parse_iso_ms(resp_str(&r, "expires_at"));
	cr_expect_eq(expires - created, 7LL * 86400000, "%s", r.body);
	http_resp_free(&r);

	/* 50 tokens at most; revoking one makes room. */
	long long last = 0;
	for (int i = 1; i < 50; i++) {
		char name[16];
		snprintf(name, sizeof(name), "t%d", i);
		free(token_new(u.access, name, "read", &last));
	}
	cr_expect_eq(status_of("POST", "/api/v1/tokens", u.access,
	                       "{\"name\":\"one too many\",\"scope\":\"read\"}"),
	             403);
	char *path = it_asprintf("/api/v1/tokens/%lld", last);
	cr_expect_eq(status_of("DELETE", path, u.access, NULL), 204);
	free(path);
	free(token_new(u.access, "room again", "read", NULL));
	user_free(&u);
	server_stop_ok(&srv);
}

Test(tokens, expiry_other_users_and_account_deletion)
{
	server_start(&srv, NULL);
	struct it_user a, b;
	user_new(&srv, &a);
	user_new(&srv, &b);
	long long id;
	char *token = token_new(a.access, "soon gone", "write", &id);

	/* Another user's token: 404 exactly like a missing one, and it keeps working. */
	char *path = it_asprintf("/api/v1/tokens/%lld", id);
	cr_expect_eq(status_of("DELETE", path, b.access, NULL), 404);
	cr_expect_eq(status_of("GET", "/api/v1/notes", token, NULL), 200);
	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", "/api/v1/tokens", b.access, NULL, &r), 200);
	cr_expect_eq(json_array_size(json_object_get(r.json, "items")), 0, "%s", r.body);
	http_resp_free(&r);

	/* Past its expiry: 401. */
	char *sql = it_asprintf("UPDATE api_tokens SET expires_at = 1 WHERE id = %lld", id);
	db_exec(sql);
	free(sql);
	cr_expect_eq(status_of("GET", "/api/v1/notes", token, NULL), 401);

	/* Deleting the account revokes its tokens. */
	char *second = token_new(a.access, "second", "read", NULL);
	cr_expect_eq(status_of("GET", "/api/v1/notes", second, NULL), 200);
	cr_expect_eq(status_of("DELETE", "/api/v1/auth/me", a.access, NULL), 204);
	cr_expect_eq(status_of("GET", "/api/v1/notes", second, NULL), 401);
	char *left = db_text("SELECT count(*) FROM api_tokens");
	cr_expect_str_eq(left, "0");
	free(left);
	free(second);
	free(path);
	free(token);
	user_free(&a);
	user_free(&b);
	server_stop_ok(&srv);
}

Test(tokens, cli)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct cli_result c;
	cr_assert_eq(cli_run(&c, srv.dir, NULL, NULL, "token", "create", "--user", u.email,
	                     "--name", "from the shell", "--scope", "write", "--expires-days", "30",
	                     NULL),
	             0, "%s", c.err);
	char *token = it_strdup(c.out);
	token[strcspn(token, "\n")] = '\0';
	cr_expect_eq(strlen(token), 53, "%s", c.out);
	cli_result_free(&c);
	cr_expect_eq(status_of("POST", "/api/v1/notes", token, "{\"title\":\"via cli token\"}"),
	             201);

	cr_assert_eq(cli_run(&c, srv.dir, NULL, NULL, "token", "list", "--user", u.email, NULL), 0,
	             "%s", c.err);
	cr_expect(strstr(c.out, "\tfrom the shell\twrite\t") && !strstr(c.out, token + 10), "%s",
	          c.out);
	long long id = strtoll(c.out, NULL, 10);
	cli_result_free(&c);

	cr_expect_eq(cli_run(&c, srv.dir, NULL, NULL, "token", "create", "--user", u.email,
	                     "--name", "x", "--scope", "admin", NULL),
	             2);
	cli_result_free(&c);
	cr_expect_eq(cli_run(&c, srv.dir, NULL, NULL, "token", "create", "--user", u.email, NULL),
	             2);
	cli_result_free(&c);

	char *ids = it_asprintf("%lld", id);
	cr_assert_eq(
	    cli_run(&c, srv.dir, NULL, NULL, "token", "revoke", "--user", u.email, ids, NULL), 0,
	    "%s", c.err);
	cli_result_free(&c);
	cr_expect_eq(status_of("GET", "/api/v1/notes", token, NULL), 401);
	cr_expect_eq(
	    cli_run(&c, srv.dir, NULL, NULL, "token", "revoke", "--user", u.email, ids, NULL), 1);
	cli_result_free(&c);
	free(ids);
	free(token);
	user_free(&u);
	server_stop_ok(&srv);
}

/* The names of the tools tools/list offers, comma-separated; caller frees. */
static char *tool_names(json_t *result)
{
	char *names = it_strdup("");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(result, "tools"), i, t)
	{
		char *next =
		    it_asprintf("%s%s,", names, json_string_value(json_object_get(t, "name")));
		free(names);
		names = next;
	}
	return names;
}

static json_t *mcp_post(const char *token, const char *msg)
{
	struct http_resp r;
	cr_assert_eq(api(&srv, "POST", "/mcp", token, msg, &r), 200, "%s", r.body);
	json_t *result = json_incref(json_object_get(r.json, "result"));
	cr_assert(result, "%s", r.body);
	http_resp_free(&r);
	return result;
}

static const char list_msg[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
static const char create_msg[] =
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
    "\"create_note\",\"arguments\":{\"title\":\"from an agent\"}}}";
static const char search_msg[] =
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
    "\"list_notes\",\"arguments\":{}}}";

Test(tokens, mcp_http)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	char *ro = token_new(u.access, "agent reads", "read", NULL);
	char *rw = token_new(u.access, "agent writes", "write", NULL);

	json_t *res = mcp_post(ro, list_msg);
	char *names = tool_names(res);
	cr_expect(strstr(names, "search_notes,") && strstr(names, "get_note,") &&
	              !strstr(names, "create_note") && !strstr(names, "update_note"),
	          "%s", names);
	free(names);
	json_decref(res);
	res = mcp_post(ro, create_msg);
	cr_expect(json_is_true(json_object_get(res, "isError")));
	cr_expect(strstr(json_string_value(json_object_get(
	                     json_array_get(json_object_get(res, "content"), 0), "text")),
	                 "read-only"));
	json_decref(res);
	res = mcp_post(ro, search_msg);
	cr_expect(json_is_false(json_object_get(res, "isError")));
	json_decref(res);

	res = mcp_post(rw, list_msg);
	names = tool_names(res);
	cr_expect(strstr(names, "create_note,") && strstr(names, "update_note,"), "%s", names);
	free(names);
	json_decref(res);
	res = mcp_post(rw, create_msg);
	cr_expect(json_is_false(json_object_get(res, "isError")));
	json_decref(res);

	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes", u.access, NULL, &r), 200);
	cr_expect_eq(json_integer_value(json_object_get(r.json, "total")), 1, "%s", r.body);
	http_resp_free(&r);
	free(ro);
	free(rw);
	user_free(&u);
	server_stop_ok(&srv);
}

/* `vault mcp` with VAULT_TOKEN=token, fed in; its output lines. */
static int mcp_stdio(const char *token, const char *in, struct cli_result *c)
{
	char *env = it_asprintf("VAULT_TOKEN=%s", token);
	const char *const extra[] = {env, NULL};
	int st = cli_run(c, srv.dir, extra, in, "mcp", NULL);
	free(env);
	return st;
}

Test(tokens, mcp_stdio)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	long long ro_id;
	char *ro = token_new(u.access, "agent reads", "read", &ro_id);
	char *rw = token_new(u.access, "agent writes", "write", NULL);
	char *in = it_asprintf("%s\n%s\n%s\n", list_msg, create_msg, search_msg);

	struct cli_result c;
	cr_assert_eq(mcp_stdio(ro, in, &c), 0, "%s", c.err);
	cr_expect(strstr(c.out, "\"search_notes\"") && !strstr(c.out, "\"create_note\""), "%s",
	          c.out);
	cr_expect(strstr(c.out, "read-only") && strstr(c.out, "\"id\":3"), "%s", c.out);
	cli_result_free(&c);

	cr_assert_eq(mcp_stdio(rw, in, &c), 0, "%s", c.err);
	cr_expect(strstr(c.out, "\"create_note\"") && strstr(c.out, "from an agent"), "%s", c.out);
	cr_expect(!strstr(c.out, "read-only"), "%s", c.out);
	cli_result_free(&c);

	/* Revoked: refused at start. */
	char *path = it_asprintf("/api/v1/tokens/%lld", ro_id);
	cr_expect_eq(status_of("DELETE", path, u.access, NULL), 204);
	cr_expect_eq(mcp_stdio(ro, in, &c), 1);
	cr_expect(strstr(c.err, "VAULT_TOKEN"), "%s", c.err);
	cli_result_free(&c);

	/* --user and VAULT_TOKEN together: a usage error; neither: one too. */
	char *env = it_asprintf("VAULT_TOKEN=%s", rw);
	const char *const extra[] = {env, NULL};
	cr_expect_eq(cli_run(&c, srv.dir, extra, in, "mcp", "--user", u.email, NULL), 2);
	cli_result_free(&c);
	cr_expect_eq(cli_run(&c, srv.dir, NULL, in, "mcp", NULL), 2);
	cli_result_free(&c);
	free(env);

	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes", u.access, NULL, &r), 200);
	cr_expect_eq(json_integer_value(json_object_get(r.json, "total")), 1, "%s", r.body);
	http_resp_free(&r);
	free(path);
	free(in);
	free(ro);
	free(rw);
	user_free(&u);
	server_stop_ok(&srv);
}
