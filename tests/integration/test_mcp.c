/*
 * test_mcp.c - the Model Context Protocol's edges the SDK test does not
 * show (tests/e2e/mcp.test.mjs drives both transports with the official
 * client): over HTTP, 401 without a token, 202 and no body for a
 * notification, 405 for the stream a client may try to open, JSON-RPC
 * errors for what is not a request; over stdio, a line past the size limit
 * is answered and skipped, and the next one still works.
 */
#include "integration/harness.h"

#include <string.h>

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(mcp, .fini = cleanup, .timeout = IT_TIMEOUT(60));

Test(mcp, http_statuses_and_errors)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct http_resp r;
	const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}";
	cr_expect_eq(api(&srv, "POST", "/mcp", NULL, ping, &r), 401);
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "POST", "/mcp", u.access, ping, &r), 200, "%s", r.body);
	cr_expect_eq(json_integer_value(json_object_get(r.json, "id")), 7);
	cr_expect(json_is_object(json_object_get(r.json, "result")));
	http_resp_free(&r);

	cr_expect_eq(api(&srv, "POST", "/mcp", u.access,
	                 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r),
	             202);
	cr_expect_eq(r.body_len, 0, "%s", r.body);
	http_resp_free(&r);
	cr_expect_eq(api(&srv, "GET", "/mcp", u.access, NULL, &r), 405);
	http_resp_free(&r);

	const struct {
		const char *msg;
		int code;
	} bad[] = {
	    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}", -32601},
	    {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", -32600},
	    {"{\"jsonrpc\":\"2.0\",\"id\":{\"x\":1},\"method\":\"ping\"}", -32600},
	    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[]}", -32602},
	    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
	     -32602},
	    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":"
	     "\"file:///etc/passwd\"}}",
	     -32002},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(api(&srv, "POST", "/mcp", u.access, bad[i].msg, &r), 200, "%s",
		             r.body);
		json_t *e = json_object_get(r.json, "error");
		cr_expect_eq(json_integer_value(json_object_get(e, "code")), bad[i].code, "%s: %s",
		             bad[i].msg, r.body);
		cr_expect(json_is_string(json_object_get(e, "message")));
		http_resp_free(&r);
	}
	user_free(&u);
	server_stop_ok(&srv);
}

Test(mcp, stdio_skips_a_line_too_long)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	/* 5 MiB on one line, then a ping. */
	char *big = it_repeat("x", 5 * 1024 * 1024);
	char *in = it_asprintf("%s\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n", big);
	struct cli_result c;
	cli_run(&c, srv.dir, NULL, in, "mcp", "--user", u.email, NULL);
	cr_assert_eq(c.status, 0, "exit %d: %s", c.status, c.err);
	char *second = strchr(c.out, '\n');
	cr_assert(second, "one line: %s", c.out);
	cr_expect(strstr(c.out, "\"code\":-32700") < second && strstr(c.out, "message too large"),
	          "%s", c.out);
	cr_expect(strstr(second, "\"id\":2") && strstr(second, "\"result\":{}"), "%s", second);
	cli_result_free(&c);
	free(in);
	free(big);
	user_free(&u);
	server_stop_ok(&srv);
}
