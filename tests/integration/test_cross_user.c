/*
 * test_cross_user.c - isolation between users: another user's note is a 404
 * exactly like a missing one, for reads and writes, and never shows up in
 * lists or tag filters.
 */
#include "integration/harness.h"

#include <string.h>

static struct server srv;
static struct it_user alice, bob;

static void cleanup(void)
{
	user_free(&alice);
	user_free(&bob);
	server_cleanup(&srv);
}

TestSuite(cross_user, .fini = cleanup, .timeout = IT_TIMEOUT(60));

static void setup(void)
{
	server_start(&srv, NULL);
	user_new(&srv, &alice);
	user_new(&srv, &bob);
}

static int on_note(const char *method, const struct it_user *u, long long id, const char *body,
                   struct http_resp *r)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", id);
	return api(&srv, method, path, u->access, body, r);
}

Test(cross_user, other_users_note_is_404_and_untouched)
{
	setup();
	long long id = note_create(
	    &srv, alice.access, "{\"title\":\"alice secret\",\"content\":\"c\",\"tags\":[\"a\"]}");
	struct http_resp orig;
	cr_assert_eq(note_get(&srv, alice.access, id, &orig), 200);

	/* What a missing note looks like to bob, to compare with. */
	struct http_resp missing;
	on_note("GET", &bob, 987654321, NULL, &missing);
	cr_assert_eq(missing.status, 404);

	struct http_resp r;
	on_note("GET", &bob, id, NULL, &r);
	cr_assert_eq(r.status, 404, "bob GET alice's note: %d %s", r.status, r.body);
	cr_assert(!strstr(r.body, "alice secret"), "404 leaks the title");
	cr_assert_str_eq(resp_str(&r, "detail") ? resp_str(&r, "detail") : "(none)",
	                 resp_str(&missing, "detail") ? resp_str(&missing, "detail") : "(none)",
	                 "another user's note and a missing one give different details");
	http_resp_free(&r);

	on_note("PUT", &bob, id, "{\"title\":\"pwned\",\"content\":\"x\",\"tags\":[\"b\"]}", &r);
	cr_assert_eq(r.status, 404, "bob PUT alice's note: %d %s", r.status, r.body);
	http_resp_free(&r);
	on_note("PUT", &bob, id, "{\"title\":5}", &r);
	cr_assert(r.status == 404 || r.status == 422, "bob bad PUT on alice's note: %d", r.status);
	http_resp_free(&r);

	on_note("DELETE", &bob, id, NULL, &r);
	cr_assert_eq(r.status, 404, "bob DELETE alice's note: %d %s", r.status, r.body);
	http_resp_free(&r);

	/* Alice's note is exactly as before, updated_at included. */
	cr_assert_eq(note_get(&srv, alice.access, id, &r), 200, "alice lost her note");
	cr_assert(notes_equal(r.json, orig.json), "bob changed alice's note:\nbefore %s\nafter  %s",
	          orig.body, r.body);
	http_resp_free(&r);
	http_resp_free(&orig);
	http_resp_free(&missing);
	server_stop_ok(&srv);
}

Test(cross_user, lists_are_per_user)
{
	setup();
	long long a1 = note_create(&srv, alice.access, "{\"title\":\"a1\",\"tags\":[\"shared\"]}");
	long long a2 = note_create(&srv, alice.access, "{\"title\":\"a2\",\"tags\":[\"shared\"]}");
	long long b1 = note_create(&srv, bob.access, "{\"title\":\"b1\",\"tags\":[\"shared\"]}");

	static const char *const queries[] = {"", "?tag=shared", "?limit=100", NULL};
	for (int q = 0; queries[q]; q++) {
		char *path = it_asprintf("/api/v1/notes%s", queries[q]);
		struct http_resp r;
		cr_assert_eq(api(&srv, "GET", path, bob.access, NULL, &r), 200);
		cr_expect_eq(json_integer_value(json_object_get(r.json, "total")), 1,
		             "bob's total for %s: %s", path, r.body);
		json_t *items = json_object_get(r.json, "items");
		cr_expect_eq(json_array_size(items), 1, "bob's items for %s: %s", path, r.body);
		cr_expect_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")),
		             b1, "bob sees someone else's note for %s: %s", path, r.body);
		http_resp_free(&r);

		cr_assert_eq(api(&srv, "GET", path, alice.access, NULL, &r), 200);
		cr_expect_eq(json_integer_value(json_object_get(r.json, "total")), 2,
		             "alice's total for %s: %s", path, r.body);
		items = json_object_get(r.json, "items");
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			long long nid = (long long)json_integer_value(json_object_get(it, "id"));
			cr_expect(nid == a1 || nid == a2, "alice's list for %s holds note %lld",
			          path, nid);
		}
		http_resp_free(&r);
		free(path);
	}
	server_stop_ok(&srv);
}

Test(cross_user, deleting_one_account_keeps_the_other)
{
	setup();
	long long a = note_create(&srv, alice.access, "{\"title\":\"stays\"}");
	note_create(&srv, bob.access, "{\"title\":\"goes\"}");
	struct http_resp r;
	cr_assert_eq(api(&srv, "DELETE", "/api/v1/auth/me", bob.access, NULL, &r), 204);
	http_resp_free(&r);
	cr_assert_eq(note_get(&srv, alice.access, a, &r), 200, "alice's note vanished");
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "GET", "/api/v1/auth/me", alice.access, NULL, &r), 200,
	             "alice's token stopped working");
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes", alice.access, NULL, &r), 200);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 1, "%s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(cross_user, token_of_one_user_never_acts_as_another)
{
	setup();
	long long a = note_create(&srv, alice.access, "{\"title\":\"a\"}");
	/* A token minted with the key for bob's id is bob, not alice. */
	char sub[32];
	snprintf(sub, sizeof(sub), "%lld", bob.id);
	char *bob_token = jwt_mint(sub, it_time(), it_time() + 600);
	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", "/api/v1/auth/me", bob_token, NULL, &r), 200);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "id")), bob.id,
	             "minted token for bob answered as %s", r.body);
	http_resp_free(&r);
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", a);
	cr_assert_eq(api(&srv, "GET", path, bob_token, NULL, &r), 404);
	http_resp_free(&r);
	free(bob_token);
	server_stop_ok(&srv);
}

Test(cross_user, logout_with_another_users_refresh_token_revokes_nothing_of_theirs)
{
	setup();
	struct http_resp r;
	char *body = it_jpack("{s:s}", "refresh_token", bob.refresh);
	api(&srv, "POST", "/api/v1/auth/logout", alice.access, body, &r);
	cr_assert(r.status < 500, "logout with bob's token: %d", r.status);
	http_resp_free(&r);
	free(body);
	body = it_jpack("{s:s}", "refresh_token", bob.refresh);
	api(&srv, "POST", "/api/v1/auth/refresh", NULL, body, &r);
	cr_assert_eq(r.status, 200, "alice's logout revoked bob's refresh token: %d %s", r.status,
	             r.body);
	http_resp_free(&r);
	free(body);
	server_stop_ok(&srv);
}
