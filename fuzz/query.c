/*
 * query.c - fuzz target: query strings and paths, through the real server
 * (libmicrohttpd's parsing, http/server.c's decoding, the router, and the
 * api_query* readers of every GET route).
 *
 * Input: byte 0 picks a GET route, whose query string the rest is; or,
 * past the routes, the rest is the whole path and query. Bytes that cannot
 * stand on a request line (controls, space, non-ASCII, "#") go
 * percent-encoded, so every input reaches the server; a "%" goes as it is,
 * so the fuzzer writes escapes of its own (%00, %ZZ, a lone %). Requests
 * carry the bearer token of a fresh account holding one note (the one
 * /notes/{id} reads). Properties (harness.c): never a 5xx, a JSON object
 * body, "detail" on errors; a search answers at most top_k results, each
 * with a similarity from 0 to 1; nothing leaks (LeakSanitizer).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "fuzz.h"
#include "harness.h"

static const char *const routes[] = {
    "/api/v1/notes",        "/api/v1/notes/%lld", "/api/v1/search",
    "/api/v1/index/status", "/api/v1/auth/me",
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Appends s[0..n) to out, percent-encoding what may not stand on a request line. */
static size_t encode(const uint8_t *s, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] > ' ' && s[i] < 0x7f && s[i] != '#') {
			out[o++] = (char)s[i];
		} else {
			out[o++] = '%';
			out[o++] = hex[s[i] >> 4];
			out[o++] = hex[s[i] & 15];
		}
	}
	out[o] = '\0';
	return o;
}

static void check_search(json_t *answer)
{
	json_t *results = json_object_get(answer, "results"), *hit;
	json_int_t top_k = json_integer_value(json_object_get(answer, "top_k"));
	CHECK(json_is_array(results), "a search without results");
	CHECK((json_int_t)json_array_size(results) <= top_k, "%zu results for top_k %lld",
	      json_array_size(results), (long long)top_k);
	size_t i;
	json_array_foreach(results, i, hit)
	{
		double s = json_number_value(json_object_get(hit, "similarity"));
		CHECK(s >= 0 && s <= 1, "similarity %g", s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	size_t route = take_byte(&in) % (NROUTES + 1);
	struct account a;
	harness_account(&a);
	char *target = xmalloc(64 + 3 * in.n);
	size_t len = 0;
	if (route < NROUTES) {
		len = (size_t)snprintf(target, 64, routes[route], (long long)a.note_id);
		target[len++] = '?';
	} else {
		target[len++] = '/';
	}
	encode(in.p, in.n, target + len);

	json_t *answer;
	long status = harness_request("GET", target, a.authorization, NULL, 0, &answer);
	if (status == 200 && strncmp(target, "/api/v1/search?", 15) == 0)
		check_search(answer);
	json_decref(answer);
	free(target);
	harness_account_end(&a);
	return 0;
}
