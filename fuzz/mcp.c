/*
 * mcp.c - fuzz target: Model Context Protocol messages to POST /mcp on the
 * real server in this process (api/mcp.c over the /api/v1 handlers).
 *
 * Input: the request body, from an account holding one note. Properties
 * (besides the harness's: no 5xx, JSON objects, a detail on errors): a 200
 * is one JSON-RPC 2.0 response, with a result or an error and not both, for
 * the id sent; a 202 (no body) answers only a message without an id; a
 * tool's result is content with isError, and a note a tool wrote reads back
 * as the tool answered.
 */
#include <string.h>

#include "fuzz.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct account a;
	harness_account(&a);
	json_t *answer;
	long status =
	    harness_request("POST", "/mcp", a.authorization, (const char *)data, size, &answer);
	json_t *sent = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (status == 200) {
		CHECK(json_is_object(answer), "no response object");
		const char *v = json_string_value(json_object_get(answer, "jsonrpc"));
		CHECK(v && strcmp(v, "2.0") == 0, "jsonrpc");
		json_t *result = json_object_get(answer, "result"),
		       *error = json_object_get(answer, "error");
		CHECK(!result != !error, "a response needs a result or an error, not both");
		json_t *id = json_object_get(sent, "id");
		json_t *rid = json_object_get(answer, "id");
		CHECK(json_is_null(rid) || json_equal(rid, id), "a response for another id");
		const char *method = json_string_value(json_object_get(sent, "method"));
		if (result && method && strcmp(method, "tools/call") == 0) {
			CHECK(json_is_array(json_object_get(result, "content")),
			      "a tool result without content");
			CHECK(json_is_boolean(json_object_get(result, "isError")), "isError");
			json_t *note = json_object_get(result, "structuredContent");
			json_t *nid = json_object_get(note, "id");
			const char *tool = json_string_value(
			    json_object_get(json_object_get(sent, "params"), "name"));
			if (json_is_integer(nid) && tool &&
			    (strcmp(tool, "create_note") == 0 ||
			     strcmp(tool, "update_note") == 0)) {
				char path[64];
				snprintf(path, sizeof(path), "/api/v1/notes/%lld",
				         (long long)json_integer_value(nid));
				json_t *stored;
				CHECK(harness_request("GET", path, a.authorization, NULL, 0,
				                      &stored) == 200,
				      "GET %s", path);
				CHECK(json_equal(stored, note),
				      "the note read back is not the one answered");
				json_decref(stored);
			}
		}
	} else if (status == 202) {
		CHECK(!answer, "a 202 with a body");
		CHECK(json_is_object(sent) && !json_object_get(sent, "id"),
		      "202 for a request with an id");
	} else {
		CHECK(status / 100 == 4, "status %ld", status);
	}
	json_decref(sent);
	json_decref(answer);
	harness_account_end(&a);
	return 0;
}
