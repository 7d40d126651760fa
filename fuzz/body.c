/*
 * body.c - fuzz target: JSON request bodies, through the real server's
 * parsing and every route's validation (http/server.c, api/, services/).
 *
 * Input: byte 0 picks one of the routes that take a body, the rest is the
 * body, sent as application/json with the bearer token of a fresh account
 * that holds one note (the note a PUT changes). Properties (harness.c):
 * the answer is 2xx or 4xx, never a 5xx (but the 503 of /ask, which has no
 * LLM here); its body is a JSON object; an error carries "detail". A note
 * created or changed reads back as the answer showed it; nothing leaks
 * (LeakSanitizer).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "harness.h"

static const struct route {
	const char *method;
	const char *path; /* %lld: the account's note */
} routes[] = {
    {"POST", "/api/v1/auth/register"}, {"POST", "/api/v1/auth/login"},
    {"POST", "/api/v1/auth/refresh"},  {"POST", "/api/v1/auth/logout"},
    {"POST", "/api/v1/notes"},         {"PUT", "/api/v1/notes/%lld"},
    {"POST", "/api/v1/search"},        {"POST", "/api/v1/ask"},
    {"POST", "/api/v1/render"},
};

/* A note the answer showed reads back the same. */
static void check_stored(const struct account *a, json_t *shown)
{
	json_t *id = json_object_get(shown, "id"), *stored;
	CHECK(json_is_integer(id), "a note without an id");
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", (long long)json_integer_value(id));
	long status = harness_request("GET", path, a->authorization, NULL, 0, &stored);
	CHECK(status == 200, "GET %s: %ld", path, status);
	CHECK(json_equal(stored, shown), "the note read back is not the one answered");
	json_decref(stored);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	const struct route *r = &routes[take_byte(&in) % (sizeof(routes) / sizeof(routes[0]))];
	struct account a;
	harness_account(&a);
	char path[64];
	snprintf(path, sizeof(path), r->path, (long long)a.note_id);

	json_t *answer;
	long status =
	    harness_request(r->method, path, a.authorization, (const char *)in.p, in.n, &answer);
	bool note = strncmp(path, "/api/v1/notes", 13) == 0;
	if (note && status / 100 == 2)
		check_stored(&a, answer);
	json_decref(answer);
	harness_account_end(&a);
	return 0;
}
