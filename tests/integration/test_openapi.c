/*
 * test_openapi.c - GET /openapi.json: the OpenAPI 3.1 document of every
 * route of the server, public, the same as `vault openapi` prints. (Every
 * answer of every integration test is checked against it afterwards, by
 * tests/openapi/validate.mjs.)
 */
#include "integration/harness.h"

#include <string.h>

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(openapi, .fini = cleanup, .timeout = IT_TIMEOUT(60));

Test(openapi, serves_every_route_with_the_bearer_scheme)
{
	server_start(&srv, NULL);
	struct http_resp r;
	cr_assert_eq(http(&srv, "GET", "/openapi.json", NULL, NULL, &r), 200, "%d %s", r.status,
	             r.body);
	cr_assert(it_contains(http_header(&r, "Content-Type"), "application/json", false));
	json_t *doc = r.json;
	cr_assert_not_null(doc, "not JSON: %.200s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	json_t *paths = json_object_get(doc, "paths");
	/* A route the server has is in the document: each answers something but 404 there. */
	static const char *const ops[][2] = {
	    {"/health", "get"},
	    {"/api/v1/auth/login", "post"},
	    {"/api/v1/notes", "get"},
	    {"/api/v1/notes", "post"},
	    {"/api/v1/notes/{id}", "put"},
	    {"/api/v1/search", "get"},
	    {"/api/v1/ask", "post"},
	    {"/mcp", "post"},
	    {"/metrics", "get"},
	    {"/openapi.json", "get"},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		cr_assert_not_null(json_object_get(json_object_get(paths, ops[i][0]), ops[i][1]),
		                   "%s %s missing", ops[i][1], ops[i][0]);
	json_t *notes_get = json_object_get(json_object_get(paths, "/api/v1/notes"), "get");
	cr_assert_not_null(
	    json_object_get(json_array_get(json_object_get(notes_get, "security"), 0), "bearer"),
	    "GET /api/v1/notes has no security requirement");
	json_t *bearer = json_object_get(
	    json_object_get(json_object_get(doc, "components"), "securitySchemes"), "bearer");
	cr_assert_str_eq(json_string_value(json_object_get(bearer, "scheme")), "bearer");
	json_t *err = json_object_get(
	    json_object_get(json_object_get(doc, "components"), "schemas"), "Error");
	cr_assert_not_null(json_object_get(json_object_get(err, "properties"), "detail"));

	/* `vault openapi` prints the same document. */
	struct cli_result c;
	cr_assert_eq(cli_run(&c, srv.dir, NULL, NULL, "openapi", NULL), 0, "%s", c.err);
	json_t *printed = json_loads(c.out, 0, NULL);
	cr_assert(json_equal(printed, doc), "vault openapi differs from GET /openapi.json");
	json_decref(printed);
	cli_result_free(&c);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(openapi, docs_page_is_served_under_the_page_csp)
{
	server_start(&srv, NULL);
	struct http_resp r;
	cr_assert_eq(http(&srv, "GET", "/docs", NULL, NULL, &r), 200, "%d", r.status);
	cr_assert(it_contains(http_header(&r, "Content-Type"), "text/html", false));
	const char *csp = http_header(&r, "Content-Security-Policy");
	cr_assert(it_contains(csp, "script-src 'self';", false), "CSP: %s", csp);
	cr_assert(!it_contains(csp, "unsafe-inline", false), "CSP: %s", csp);
	cr_assert(it_contains(r.body, "/docs/swagger-ui-bundle.js", false), "%.300s", r.body);
	http_resp_free(&r);
	static const char *const files[][2] = {
	    {"/docs/swagger-ui-bundle.js", "text/javascript"},
	    {"/docs/swagger-ui.css", "text/css"},
	    {"/docs/docs.js", "text/javascript"},
	};
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(http(&srv, "GET", files[i][0], NULL, NULL, &r), 200, "%s: %d",
		             files[i][0], r.status);
		cr_assert(it_contains(http_header(&r, "Content-Type"), files[i][1], false),
		          "%s: %s", files[i][0], http_header(&r, "Content-Type"));
		cr_assert_gt(r.body_len, 100);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}
