/*
 * test_notes.c - the notes API of one user: create with its validation
 * rules, get, list with paging and tag filters, update (merge) and delete.
 */
#include "integration/harness.h"

#include <pthread.h>
#include <string.h>

static struct server srv;
static struct it_user me;

static void cleanup(void)
{
	user_free(&me);
	server_cleanup(&srv);
}

TestSuite(notes, .fini = cleanup, .timeout = IT_TIMEOUT(60));

/* Starts a server (with env) and registers the caller. */
static void setup(const char *const *env)
{
	server_start(&srv, env);
	user_new(&srv, &me);
}

static int create(const char *body, struct http_resp *r)
{
	return api(&srv, "POST", "/api/v1/notes", me.access, body, r);
}

static int put(long long id, const char *body, struct http_resp *r)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", id);
	return api(&srv, "PUT", path, me.access, body, r);
}

static int list(const char *query, struct http_resp *r)
{
	char *path = it_asprintf("/api/v1/notes%s", query);
	int st = api(&srv, "GET", path, me.access, NULL, r);
	free(path);
	return st;
}

/* Asserts r.json is a well-formed note. */
static void check_note_shape(const struct http_resp *r, const char *what)
{
	json_t *n = r->json;
	cr_assert(json_is_object(n), "%s: not a JSON object: %.300s", what, r->body);
	cr_assert(json_is_integer(json_object_get(n, "id")), "%s: id: %.300s", what, r->body);
	cr_assert(json_is_string(json_object_get(n, "title")), "%s: title: %.300s", what, r->body);
	cr_assert(json_is_string(json_object_get(n, "content")), "%s: content: %.300s", what,
	          r->body);
	cr_assert(json_is_array(json_object_get(n, "tags")), "%s: tags: %.300s", what, r->body);
	cr_assert(it_is_iso_ms(resp_str(r, "created_at")), "%s: created_at: %.300s", what, r->body);
	cr_assert(it_is_iso_ms(resp_str(r, "updated_at")), "%s: updated_at: %.300s", what, r->body);
}

/* The tags of a note as one string "a|b|c". Caller frees. */
static char *tags_of(json_t *note)
{
	json_t *tags = json_object_get(note, "tags");
	char *out = it_strdup("");
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		char *n = it_asprintf("%s%s%s", out, i ? "|" : "",
		                      json_is_string(t) ? json_string_value(t) : "<non-string>");
		free(out);
		out = n;
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* Create */

Test(notes, create_minimal_and_location)
{
	setup(NULL);
	struct http_resp r;
	cr_assert_eq(create("{\"title\":\"Hello\"}", &r), 201, "%d %s", r.status, r.body);
	check_note_shape(&r, "create");
	long long id = (long long)json_integer_value(json_object_get(r.json, "id"));
	cr_assert_str_eq(resp_str(&r, "title"), "Hello");
	cr_assert_str_eq(resp_str(&r, "content"), "", "content defaults to \"\"");
	cr_assert_eq(json_array_size(json_object_get(r.json, "tags")), 0);
	cr_assert_str_eq(resp_str(&r, "created_at"), resp_str(&r, "updated_at"),
	                 "a new note has updated_at == created_at");
	const char *loc = http_header(&r, "Location");
	char want[64], want_abs[128];
	snprintf(want, sizeof(want), "/api/v1/notes/%lld", id);
	snprintf(want_abs, sizeof(want_abs), "%s%s", srv.base_url, want);
	cr_assert(loc && (strcmp(loc, want) == 0 || strcmp(loc, want_abs) == 0),
	          "Location \"%s\", expected %s", loc ? loc : "(none)", want);
	json_t *created = json_incref(r.json);
	http_resp_free(&r);

	cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
	cr_assert(notes_equal(r.json, created), "GET differs from the create answer:\n%s", r.body);
	json_decref(created);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(notes, create_full_note_round_trips)
{
	setup(NULL);
	const char *content =
	    "line 1\nline 2\r\n\tindented \xe2\x9c\x93 \xf0\x9f\x98\x80 \"q\" \\ /";
	char *body = it_jpack("{s:s, s:s, s:[s,s,s]}", "title", "Caf\xc3\xa9 \xf0\x9f\x93\x9d",
	                      "content", content, "tags", "work", "\xc3\xa9t\xc3\xa9", "two words");
	struct http_resp r;
	cr_assert_eq(create(body, &r), 201, "%d %s", r.status, r.body);
	check_note_shape(&r, "create");
	cr_assert_str_eq(resp_str(&r, "title"), "Caf\xc3\xa9 \xf0\x9f\x93\x9d");
	cr_assert_str_eq(resp_str(&r, "content"), content, "content not kept byte for byte");
	char *tags = tags_of(r.json);
	cr_assert_str_eq(tags, "work|\xc3\xa9t\xc3\xa9|two words");
	free(tags);
	long long id = (long long)json_integer_value(json_object_get(r.json, "id"));
	http_resp_free(&r);
	cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
	cr_assert_str_eq(resp_str(&r, "content"), content);
	http_resp_free(&r);
	free(body);
	server_stop_ok(&srv);
}

Test(notes, title_rules)
{
	setup(NULL);
	char *a200 = it_repeat("a", 200), *a201 = it_repeat("a", 201);
	char *e200 = it_repeat("\xc3\xa9", 200), *e201 = it_repeat("\xc3\xa9", 201);
	char *emoji200 = it_repeat("\xf0\x9f\x98\x80", 200);
	char *padded = it_asprintf("   %s  ", a200); /* 200 after trimming */
	struct {
		const char *title;
		int status;
		const char *what;
	} cases[] = {
	    {"", 422, "empty"},
	    {"    ", 422, "only spaces"},
	    {" \t ", 422, "blank with a tab"},
	    {a200, 201, "200 ASCII"},
	    {a201, 422, "201 ASCII"},
	    {e200, 201, "200 x U+00E9 (400 bytes)"},
	    {e201, 422, "201 x U+00E9"},
	    {emoji200, 201, "200 emoji (800 bytes)"},
	    {padded, 201, "200 characters padded with spaces"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = it_jpack("{s:s}", "title", cases[i].title);
		struct http_resp r;
		create(body, &r);
		cr_expect_eq(r.status, cases[i].status, "title %s: status %d, expected %d (%.200s)",
		             cases[i].what, r.status, cases[i].status, r.body);
		if (r.status == 422)
			assert_error_body(&r, cases[i].what);
		http_resp_free(&r);
		free(body);
	}
	/* Trimmed on the way in. */
	struct http_resp r;
	cr_assert_eq(create("{\"title\":\"  hello world \"}", &r), 201);
	cr_assert_str_eq(resp_str(&r, "title"), "hello world", "title not trimmed");
	http_resp_free(&r);
	cr_assert_eq(create("{\"content\":\"no title\"}", &r), 422, "missing title: %d", r.status);
	http_resp_free(&r);
	free(a200);
	free(a201);
	free(e200);
	free(e201);
	free(emoji200);
	free(padded);
	server_stop_ok(&srv);
}

Test(notes, control_characters_refused)
{
	setup(NULL);
	struct {
		const char *body;
		int status;
	} cases[] = {
	    {"{\"title\":\"a\\u0000b\"}", 422},
	    {"{\"title\":\"a\\u0001b\"}", 422},
	    {"{\"title\":\"a\\u001fb\"}", 422},
	    {"{\"title\":\"a\\u007fb\"}", 422},
	    {"{\"title\":\"a\\tb\"}", 422},
	    {"{\"title\":\"a\\nb\"}", 422},
	    {"{\"title\":\"a\\rb\"}", 422},
	    {"{\"title\":\"t\",\"tags\":[\"a\\nb\"]}", 422},
	    {"{\"title\":\"t\",\"tags\":[\"a\\u0000\"]}", 422},
	    {"{\"title\":\"t\",\"tags\":[\"x\\u007f\"]}", 422},
	    {"{\"title\":\"t\",\"tags\":[\"a\\tb\"]}", 422},
	    {"{\"title\":\"t\",\"content\":\"bell\\u0007\"}", 422},
	    {"{\"title\":\"t\",\"content\":\"nul\\u0000x\"}", 422},
	    {"{\"title\":\"t\",\"content\":\"del\\u007f\"}", 422},
	    {"{\"title\":\"t\",\"content\":\"esc\\u001b[31m\"}", 422},
	    {"{\"title\":\"t\",\"content\":\"tab\\tnl\\ncr\\r\"}", 201},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp r;
		create(cases[i].body, &r);
		cr_expect_eq(r.status, cases[i].status, "%s: status %d, expected %d", cases[i].body,
		             r.status, cases[i].status);
		if (r.status == 201)
			cr_expect_str_eq(resp_str(&r, "content"), "tab\tnl\ncr\r");
		http_resp_free(&r);
	}
	/* None of the refused ones were stored. */
	struct http_resp r;
	list("", &r);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 1,
	             "refused notes were stored: %.500s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

static const char *const big_body_env[] = {"MAX_BODY_BYTES=4194304", NULL};

Test(notes, content_limit_is_one_mebibyte)
{
	setup(big_body_env);
	struct {
		char *content;
		int status;
		const char *what;
	} cases[] = {
	    {it_repeat("a", 1048576), 201, "1048576 ASCII bytes"},
	    {it_repeat("a", 1048577), 422, "1048577 ASCII bytes"},
	    {it_repeat("\xc3\xa9", 524288), 201, "524288 x U+00E9 = 1048576 bytes"},
	    {it_repeat("\xc3\xa9", 524289), 422, "524289 x U+00E9 = 1048578 bytes"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = it_jpack("{s:s, s:s}", "title", "big", "content", cases[i].content);
		struct http_resp r;
		create(body, &r);
		cr_expect_eq(r.status, cases[i].status,
		             "content of %s: status %d, expected %d (%.200s)", cases[i].what,
		             r.status, cases[i].status, r.body);
		if (r.status == 201)
			cr_expect_eq(strlen(resp_str(&r, "content")), strlen(cases[i].content),
			             "content of %s came back with another length", cases[i].what);
		http_resp_free(&r);
		free(body);
		free(cases[i].content);
	}
	server_stop_ok(&srv);
}

Test(notes, tag_rules)
{
	setup(NULL);
	char *t64 = it_repeat("t", 64), *t65 = it_repeat("t", 65);
	char *e64 = it_repeat("\xc3\xa9", 64), *e65 = it_repeat("\xc3\xa9", 65);
	json_t *tags32 = json_array(), *tags33 = json_array();
	for (int i = 0; i < 33; i++) {
		char t[16];
		snprintf(t, sizeof(t), "tag%d", i);
		if (i < 32)
			json_array_append_new(tags32, json_string(t));
		json_array_append_new(tags33, json_string(t));
	}
	struct {
		char *body;
		int status;
		const char *want_tags; /* when 201 */
		const char *what;
	} cases[] = {
	    {it_jpack("{s:s, s:[s]}", "title", "t", "tags", t64), 201, t64, "64 ASCII"},
	    {it_jpack("{s:s, s:[s]}", "title", "t", "tags", t65), 422, NULL, "65 ASCII"},
	    {it_jpack("{s:s, s:[s]}", "title", "t", "tags", e64), 201, e64, "64 x U+00E9"},
	    {it_jpack("{s:s, s:[s]}", "title", "t", "tags", e65), 422, NULL, "65 x U+00E9"},
	    {it_jpack("{s:s, s:O}", "title", "t", "tags", tags32), 201, NULL, "32 tags"},
	    {it_jpack("{s:s, s:O}", "title", "t", "tags", tags33), 422, NULL, "33 tags"},
	    {it_jpack("{s:s, s:[s]}", "title", "t", "tags", ""), 422, NULL, "empty tag"},
	    {it_jpack("{s:s, s:[s]}", "title", "t", "tags", "   "), 422, NULL, "blank tag"},
	    {it_jpack("{s:s, s:[s,s]}", "title", "t", "tags", " padded ", "x"), 201, "padded|x",
	     "trimmed"},
	    {it_jpack("{s:s, s:[s,s,s,s,s]}", "title", "t", "tags", "b", "a", "b", " a ", "c"), 201,
	     "b|a|c", "duplicates dropped, first kept, order kept"},
	    {it_jpack("{s:s, s:[]}", "title", "t", "tags"), 201, "", "empty list"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp r;
		create(cases[i].body, &r);
		cr_expect_eq(r.status, cases[i].status, "tags %s: status %d, expected %d (%.200s)",
		             cases[i].what, r.status, cases[i].status, r.body);
		if (r.status == 201 && cases[i].want_tags) {
			char *got = tags_of(r.json);
			cr_expect_str_eq(got, cases[i].want_tags, "tags %s", cases[i].what);
			free(got);
		}
		if (r.status == 201 && strcmp(cases[i].what, "32 tags") == 0)
			cr_expect_eq(json_array_size(json_object_get(r.json, "tags")), 32);
		http_resp_free(&r);
		free(cases[i].body);
	}
	json_decref(tags32);
	json_decref(tags33);
	free(t64);
	free(t65);
	free(e64);
	free(e65);
	server_stop_ok(&srv);
}

Test(notes, unknown_fields_ignored)
{
	setup(NULL);
	struct http_resp r;
	cr_assert_eq(create("{\"title\":\"t\",\"bogus\":{\"nested\":[1,2]},\"id\":424242,"
	                    "\"user_id\":999,\"created_at\":\"1999-01-01T00:00:00.000Z\"}",
	                    &r),
	             201, "unknown fields refused: %d %s", r.status, r.body);
	cr_assert_neq(json_integer_value(json_object_get(r.json, "id")), 424242,
	              "client-chosen id was honoured");
	cr_assert(json_object_get(r.json, "bogus") == NULL, "unknown field echoed");
	cr_assert(strncmp(resp_str(&r, "created_at"), "1999", 4) != 0,
	          "client-chosen created_at was honoured");
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(notes, wrong_types_422_naming_field)
{
	setup(NULL);
	struct {
		const char *body, *field;
	} cases[] = {
	    {"{\"title\":5}", "title"},
	    {"{\"title\":null}", "title"},
	    {"{\"title\":[\"t\"]}", "title"},
	    {"{\"title\":true}", "title"},
	    {"{\"title\":\"t\",\"content\":7}", "content"},
	    {"{\"title\":\"t\",\"content\":{}}", "content"},
	    {"{\"title\":\"t\",\"tags\":\"x\"}", "tags"},
	    {"{\"title\":\"t\",\"tags\":[1]}", "tags"},
	    {"{\"title\":\"t\",\"tags\":[\"ok\",null]}", "tags"},
	    {"{\"title\":\"t\",\"tags\":[[\"nested\"]]}", "tags"},
	    {"{\"title\":\"t\",\"tags\":{\"a\":1}}", "tags"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp r;
		create(cases[i].body, &r);
		cr_expect_eq(r.status, 422, "%s: status %d, expected 422", cases[i].body, r.status);
		if (r.status == 422) {
			assert_error_body(&r, cases[i].body);
			cr_expect(strstr(resp_str(&r, "detail"), cases[i].field),
			          "%s: detail \"%s\" does not name %s", cases[i].body,
			          resp_str(&r, "detail"), cases[i].field);
		}
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Get */

Test(notes, bad_ids_are_404)
{
	setup(NULL);
	note_create(&srv, me.access, "{\"title\":\"t\"}");
	static const char *const fixed[] = {
	    "/api/v1/notes/abc",
	    "/api/v1/notes/0",
	    "/api/v1/notes/-1",
	    "/api/v1/notes/1.0",
	    "/api/v1/notes/1e0",
	    "/api/v1/notes/999999999",
	    "/api/v1/notes/99999999999999999999999999",
	    "/api/v1/notes/9223372036854775807",
	    "/api/v1/notes/9223372036854775808",
	    "/api/v1/notes/18446744073709551617",
	    "/api/v1/notes/1%00",
	    "/api/v1/notes/0x1",
	    "/api/v1/notes/1abc",
	    NULL,
	};
	for (int i = 0; fixed[i]; i++) {
		struct http_resp r;
		api(&srv, "GET", fixed[i], me.access, NULL, &r);
		cr_expect_eq(r.status, 404, "GET %s: status %d, expected 404", fixed[i], r.status);
		if (r.status == 404)
			assert_error_body(&r, fixed[i]);
		http_resp_free(&r);
		api(&srv, "DELETE", fixed[i], me.access, NULL, &r);
		cr_expect_eq(r.status, 404, "DELETE %s: status %d, expected 404", fixed[i],
		             r.status);
		http_resp_free(&r);
	}
	/* The real note survived all of that. */
	struct http_resp r;
	list("", &r);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 1, "%s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* List */

/* Asserts the page's ids, newest first, and its envelope. */
static void expect_page(const char *query, const long long *ids, size_t n, long long total,
                        long long skip, long long limit)
{
	struct http_resp r;
	cr_assert_eq(list(query, &r), 200, "GET /api/v1/notes%s: %d %s", query, r.status, r.body);
	json_t *items = json_object_get(r.json, "items");
	cr_assert(json_is_array(items), "%s: items not an array: %.300s", query, r.body);
	cr_expect_eq(json_integer_value(json_object_get(r.json, "total")), total, "%s: total %s",
	             query, r.body);
	cr_expect(json_is_integer(json_object_get(r.json, "skip")) &&
	              json_integer_value(json_object_get(r.json, "skip")) == skip,
	          "%s: skip, expected %lld: %.200s", query, skip, r.body);
	cr_expect(json_is_integer(json_object_get(r.json, "limit")) &&
	              json_integer_value(json_object_get(r.json, "limit")) == limit,
	          "%s: limit, expected %lld: %.200s", query, limit, r.body);
	cr_assert_eq(json_array_size(items), n, "%s: %zu items, expected %zu", query,
	             json_array_size(items), n);
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(items, i);
		cr_expect_eq(json_integer_value(json_object_get(it, "id")), ids[i],
		             "%s: item %zu is note %lld, expected %lld", query, i,
		             (long long)json_integer_value(json_object_get(it, "id")), ids[i]);
		cr_expect(json_is_string(json_object_get(it, "title")) &&
		              json_is_array(json_object_get(it, "tags")),
		          "%s: item %zu is not a full note", query, i);
	}
	http_resp_free(&r);
}

Test(notes, list_newest_first_with_paging)
{
	setup(NULL);
	long long id[5];
	for (int i = 0; i < 5; i++) {
		char *b = it_jpack("{s:s}", "title", "n");
		id[i] = note_create(&srv, me.access, b);
		free(b);
	}
	const long long all[] = {id[4], id[3], id[2], id[1], id[0]};
	expect_page("", all, 5, 5, 0, 20);
	expect_page("?limit=2", all, 2, 5, 0, 2);
	expect_page("?skip=2&limit=2", all + 2, 2, 5, 2, 2);
	expect_page("?skip=4&limit=2", all + 4, 1, 5, 4, 2);
	expect_page("?skip=5", NULL, 0, 5, 5, 20);
	expect_page("?skip=1000", NULL, 0, 5, 1000, 20);
	expect_page("?skip=2147483648", NULL, 0, 5, 2147483648LL, 20);
	expect_page("?limit=100", all, 5, 5, 0, 100);
	expect_page("?limit=1&skip=0", all, 1, 5, 0, 1);
	server_stop_ok(&srv);
}

Test(notes, list_query_validation)
{
	setup(NULL);
	static const char *const bad[] = {"?limit=0",
	                                  "?limit=101",
	                                  "?limit=-1",
	                                  "?skip=-1",
	                                  "?limit=abc",
	                                  "?skip=abc",
	                                  "?limit=1.5",
	                                  "?skip=0.5",
	                                  "?limit=1e1",
	                                  "?limit=10abc",
	                                  "?skip=1x",
	                                  "?limit=",
	                                  "?limit=99999999999999999999",
	                                  NULL};
	for (int i = 0; bad[i]; i++) {
		struct http_resp r;
		list(bad[i], &r);
		cr_expect_eq(r.status, 422, "GET /api/v1/notes%s: status %d, expected 422", bad[i],
		             r.status);
		if (r.status == 422)
			assert_error_body(&r, bad[i]);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

Test(notes, list_filters_by_all_tags)
{
	setup(NULL);
	long long ab = note_create(&srv, me.access, "{\"title\":\"ab\",\"tags\":[\"a\",\"b\"]}");
	long long a = note_create(&srv, me.access, "{\"title\":\"a\",\"tags\":[\"a\"]}");
	long long bc = note_create(&srv, me.access, "{\"title\":\"bc\",\"tags\":[\"b\",\"c\"]}");
	long long sp = note_create(
	    &srv, me.access, "{\"title\":\"sp\",\"tags\":[\"two words\",\"\xc3\xa9t\xc3\xa9\"]}");
	note_create(&srv, me.access, "{\"title\":\"none\"}");

	expect_page("?tag=a", (long long[]){a, ab}, 2, 2, 0, 20);
	expect_page("?tag=b", (long long[]){bc, ab}, 2, 2, 0, 20);
	expect_page("?tag=a&tag=b", (long long[]){ab}, 1, 1, 0, 20);
	expect_page("?tag=b&tag=a", (long long[]){ab}, 1, 1, 0, 20);
	expect_page("?tag=a&tag=c", NULL, 0, 0, 0, 20);
	expect_page("?tag=zzz", NULL, 0, 0, 0, 20);
	expect_page("?tag=a&limit=1", (long long[]){a}, 1, 2, 0, 1);
	expect_page("?tag=a&limit=1&skip=1", (long long[]){ab}, 1, 2, 1, 1);
	expect_page("?tag=two%20words", (long long[]){sp}, 1, 1, 0, 20);
	expect_page("?tag=%C3%A9t%C3%A9", (long long[]){sp}, 1, 1, 0, 20);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Update */

Test(notes, update_merges_fields)
{
	setup(NULL);
	struct http_resp r;
	cr_assert_eq(create("{\"title\":\"orig\",\"content\":\"body\",\"tags\":[\"x\",\"y\"]}", &r),
	             201);
	long long id = (long long)json_integer_value(json_object_get(r.json, "id"));
	char *created_at = it_strdup(resp_str(&r, "created_at"));
	char *updated0 = it_strdup(resp_str(&r, "updated_at"));
	http_resp_free(&r);

	/* Let the wall clock pass created_at so a new updated_at is visible. */
	int64_t c_ms = it_parse_iso_ms(created_at);
	while (it_wall_ms() <= c_ms + 2)
		it_sleep_ms(1);

	cr_assert_eq(put(id, "{\"title\":\"  renamed  \"}", &r), 200, "PUT title: %d %s", r.status,
	             r.body);
	check_note_shape(&r, "PUT");
	cr_assert_eq(json_integer_value(json_object_get(r.json, "id")), id);
	cr_assert_str_eq(resp_str(&r, "title"), "renamed", "PUT title not trimmed");
	cr_assert_str_eq(resp_str(&r, "content"), "body", "PUT title changed content");
	char *tags = tags_of(r.json);
	cr_assert_str_eq(tags, "x|y", "PUT title changed tags");
	free(tags);
	cr_assert_str_eq(resp_str(&r, "created_at"), created_at, "PUT changed created_at");
	cr_assert(strcmp(resp_str(&r, "updated_at"), updated0) > 0,
	          "updated_at %s not after the previous %s", resp_str(&r, "updated_at"), updated0);
	char *updated1 = it_strdup(resp_str(&r, "updated_at"));
	json_t *after_put = json_incref(r.json);
	http_resp_free(&r);

	cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
	cr_assert(notes_equal(r.json, after_put), "GET after PUT differs from the PUT answer: %s",
	          r.body);
	json_decref(after_put);
	http_resp_free(&r);

	cr_assert_eq(put(id, "{\"content\":\"new body\"}", &r), 200);
	cr_assert_str_eq(resp_str(&r, "title"), "renamed");
	cr_assert_str_eq(resp_str(&r, "content"), "new body");
	cr_assert(strcmp(resp_str(&r, "updated_at"), updated1) >= 0, "updated_at went backwards");
	http_resp_free(&r);

	cr_assert_eq(put(id, "{\"tags\":[\"z\",\"z\",\" w \"]}", &r), 200);
	tags = tags_of(r.json);
	cr_assert_str_eq(tags, "z|w", "PUT tags replace the list with the same rules");
	free(tags);
	cr_assert_str_eq(resp_str(&r, "title"), "renamed");
	http_resp_free(&r);

	cr_assert_eq(put(id, "{\"tags\":[]}", &r), 200);
	cr_assert_eq(json_array_size(json_object_get(r.json, "tags")), 0, "tags not cleared");
	http_resp_free(&r);

	cr_assert_eq(put(id, "{}", &r), 200, "PUT {}: %d %s", r.status, r.body);
	cr_assert_str_eq(resp_str(&r, "title"), "renamed");
	cr_assert_str_eq(resp_str(&r, "content"), "new body");
	cr_assert_str_eq(resp_str(&r, "created_at"), created_at);
	http_resp_free(&r);

	/* The tag filter sees the new tags only. */
	expect_page("?tag=x", NULL, 0, 0, 0, 20);
	free(created_at);
	free(updated0);
	free(updated1);
	server_stop_ok(&srv);
}

Test(notes, update_validation_leaves_note_unchanged)
{
	setup(NULL);
	struct http_resp r;
	cr_assert_eq(create("{\"title\":\"keep\",\"content\":\"c\",\"tags\":[\"t\"]}", &r), 201);
	long long id = (long long)json_integer_value(json_object_get(r.json, "id"));
	json_t *orig = json_incref(r.json);
	http_resp_free(&r);
	char *t201 = it_repeat("a", 201);
	char *long_title = it_jpack("{s:s}", "title", t201);
	/* field: a type error (null included) whose detail must name it; NULL: any detail. */
	struct {
		const char *body;
		const char *field;
	} cases[] = {
	    {"{\"title\":null}", "title"},
	    {"{\"content\":null}", "content"},
	    {"{\"tags\":null}", "tags"},
	    {"{\"title\":5}", "title"},
	    {"{\"content\":false}", "content"},
	    {"{\"tags\":\"x\"}", "tags"},
	    {"{\"tags\":[1]}", "tags"},
	    {"{\"title\":\"\"}", NULL},
	    {"{\"title\":\"   \"}", NULL},
	    {long_title, NULL},
	    {"{\"title\":\"ok\",\"tags\":[\"\"]}", NULL},
	    {"{\"title\":\"a\\u0001\"}", NULL},
	    {"{\"content\":\"\\u0000\"}", NULL},
	    {"{\"content\":\"\\u0007\"}", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put(id, cases[i].body, &r);
		cr_expect_eq(r.status, 422, "PUT %.80s: status %d, expected 422", cases[i].body,
		             r.status);
		if (r.status == 422) {
			assert_error_body(&r, cases[i].body);
			if (cases[i].field)
				cr_expect(strstr(resp_str(&r, "detail"), cases[i].field),
				          "PUT %.80s: detail \"%s\" does not name %s",
				          cases[i].body, resp_str(&r, "detail"), cases[i].field);
		}
		http_resp_free(&r);
	}
	cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
	cr_assert(notes_equal(r.json, orig), "a refused PUT changed the note: %s", r.body);
	http_resp_free(&r);
	json_decref(orig);
	free(t201);
	free(long_title);
	server_stop_ok(&srv);
}

Test(notes, update_unknown_ids_404)
{
	setup(NULL);
	static const char *const paths[] = {"/api/v1/notes/999999", "/api/v1/notes/abc",
	                                    "/api/v1/notes/-3", NULL};
	for (int i = 0; paths[i]; i++) {
		struct http_resp r;
		api(&srv, "PUT", paths[i], me.access, "{\"title\":\"x\"}", &r);
		cr_expect_eq(r.status, 404, "PUT %s: %d, expected 404", paths[i], r.status);
		http_resp_free(&r);
	}
	struct http_resp r;
	list("", &r);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 0,
	             "PUT to an unknown id created a note: %s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Delete */

Test(notes, delete_then_gone)
{
	setup(NULL);
	long long keep = note_create(&srv, me.access, "{\"title\":\"keep\"}");
	long long gone = note_create(&srv, me.access, "{\"title\":\"gone\",\"tags\":[\"g\"]}");
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", gone);
	struct http_resp r;
	cr_assert_eq(api(&srv, "DELETE", path, me.access, NULL, &r), 204, "DELETE: %d %s", r.status,
	             r.body);
	cr_assert_eq(r.body_len, 0, "204 with a body: %s", r.body);
	http_resp_free(&r);
	cr_assert_eq(note_get(&srv, me.access, gone, &r), 404, "GET after DELETE: %d", r.status);
	assert_error_body(&r, "GET deleted");
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "DELETE", path, me.access, NULL, &r), 404, "second DELETE: %d",
	             r.status);
	http_resp_free(&r);
	cr_assert_eq(put(gone, "{\"title\":\"back\"}", &r), 404, "PUT after DELETE: %d", r.status);
	http_resp_free(&r);
	expect_page("", (long long[]){keep}, 1, 1, 0, 20);
	expect_page("?tag=g", NULL, 0, 0, 0, 20);
	server_stop_ok(&srv);
}

struct put_arg {
	long long id;
	const char *body;
	int status;
};

static void *put_thread(void *p)
{
	struct put_arg *a = p;
	struct http_resp r;
	a->status = put(a->id, a->body, &r);
	http_resp_free(&r);
	return NULL;
}

/* Two clients change different fields at once: both changes must land. */
Test(notes, concurrent_updates_of_different_fields_both_land)
{
	setup(NULL);
	for (int round = 0; round < 20; round++) {
		long long id =
		    note_create(&srv, me.access, "{\"title\":\"before\",\"tags\":[\"old\"]}");
		struct put_arg a = {id, "{\"title\":\"after\"}", 0};
		struct put_arg b = {id, "{\"tags\":[\"new\"]}", 0};
		pthread_t ta, tb;
		pthread_create(&ta, NULL, put_thread, &a);
		pthread_create(&tb, NULL, put_thread, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		cr_assert_eq(a.status, 200, "round %d: title PUT %d", round, a.status);
		cr_assert_eq(b.status, 200, "round %d: tags PUT %d", round, b.status);

		struct http_resp r;
		cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
		json_t *tags = json_object_get(r.json, "tags");
		cr_assert_str_eq(resp_str(&r, "title"), "after", "round %d lost the title: %s",
		                 round, r.body);
		cr_assert(json_array_size(tags) == 1 &&
		              strcmp(json_string_value(json_array_get(tags, 0)), "new") == 0,
		          "round %d lost the tags: %s", round, r.body);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

/* GET /api/v1/tags: one's own tags, most used first then by name, with counts; nobody else's. */
Test(notes, tags_with_counts)
{
	setup(NULL);
	struct it_user other;
	user_new(&srv, &other);
	struct http_resp r;
	cr_assert_eq(create("{\"title\":\"a\",\"tags\":[\"work\",\"zeta\"]}", &r), 201);
	http_resp_free(&r);
	cr_assert_eq(create("{\"title\":\"b\",\"tags\":[\"work\",\"alpha\"]}", &r), 201);
	http_resp_free(&r);
	cr_assert_eq(create("{\"title\":\"c\"}", &r), 201);
	http_resp_free(&r);
	for (int i = 0; i < 3; i++)
		note_create(&srv, other.access,
		            "{\"title\":\"o\",\"tags\":[\"zeta\",\"private\"]}");

	cr_assert_eq(api(&srv, "GET", "/api/v1/tags", me.access, NULL, &r), 200, "%.300s", r.body);
	char *got = json_dumps(json_object_get(r.json, "tags"), JSON_COMPACT);
	cr_assert_str_eq(got, "[{\"tag\":\"work\",\"notes\":2},{\"tag\":\"alpha\",\"notes\":1},"
	                      "{\"tag\":\"zeta\",\"notes\":1}]");
	free(got);
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "GET", "/api/v1/tags?limit=1", me.access, NULL, &r), 200);
	cr_assert_eq(json_array_size(json_object_get(r.json, "tags")), 1, "%s", r.body);
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "GET", "/api/v1/tags?limit=0", me.access, NULL, &r), 422);
	assert_error_body(&r, "limit 0");
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "GET", "/api/v1/tags", NULL, NULL, &r), 401);
	http_resp_free(&r);
	user_free(&other);
	server_stop_ok(&srv);
}
