/*
 * test_api.c - what a client may read of an error: 4xx and AI-unavailable
 * details, never the internals of another 5xx (the streamed ask's error
 * event used to send them), unless DEBUG on a development server. What a
 * personal access token may do, decided from the route table alone.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "api/api.h"
#include "services/auth.h"

Test(api, server_faults_are_masked)
{
	struct config cfg = {.environment = ENV_PRODUCTION};
	struct verror e;
	verr_set(&e, VERR_INTERNAL, "sqlite: disk I/O error at /srv/vault/secret.db");
	cr_assert_str_eq(api_public_detail(&cfg, &e), "Internal server error");
	verr_set(&e, VERR_UNAVAILABLE, "database unavailable: connection to 10.0.0.5 refused");
	cr_assert_str_eq(api_public_detail(&cfg, &e), "Service unavailable");
	verr_set(&e, VERR_AI_UNAVAILABLE, "AI service unavailable: timed out after 30 s");
	cr_assert_str_eq(api_public_detail(&cfg, &e),
	                 "AI service unavailable: timed out after 30 s");
	verr_set(&e, VERR_INVALID, "title: must be 1-200 characters");
	cr_assert_str_eq(api_public_detail(&cfg, &e), "title: must be 1-200 characters");
	verr_set(&e, VERR_INTERNAL, "the internals");
	cfg.debug = true; /* ignored in production */
	cr_assert_str_eq(api_public_detail(&cfg, &e), "Internal server error");
	cfg.environment = ENV_DEVELOPMENT;
	cr_assert_str_eq(api_public_detail(&cfg, &e), "the internals");
}

static const struct api_route *route(const char *method, const char *pattern)
{
	for (const struct api_route *r = api_routes; r->method; r++)
		if (strcmp(r->method, method) == 0 && strcmp(r->pattern, pattern) == 0)
			return r;
	cr_assert_fail("no route %s %s", method, pattern);
	return NULL;
}

/* Whether a caller (a login's token, a read or a write personal token) may use a route. */
static enum verr may(const char *method, const char *pattern, int64_t token_id, bool read_only)
{
	struct verror e;
	struct api_req req = {.token_id = token_id, .read_only = read_only, .err = &e};
	return api_authorize(route(method, pattern), &req, NULL);
}

Test(api, token_scopes_from_the_route_table)
{
	/* Reads, and the POSTs that only read, are open to a read token. */
	const char *const reads[][2] = {
	    {"GET", "/api/v1/notes"},   {"GET", "/api/v1/notes/{id}"}, {"GET", "/api/v1/search"},
	    {"POST", "/api/v1/search"}, {"POST", "/api/v1/ask"},       {"POST", "/api/v1/render"},
	    {"POST", "/mcp"},           {"GET", "/api/v1/auth/me"},
	};
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		cr_expect_eq(may(reads[i][0], reads[i][1], 7, true), VERR_OK, "%s %s", reads[i][0],
		             reads[i][1]);
		cr_expect_eq(may(reads[i][0], reads[i][1], 7, false), VERR_OK);
	}
	/* Writes need a write token (or a login). */
	const char *const writes[][2] = {{"POST", "/api/v1/notes"},
	                                 {"PUT", "/api/v1/notes/{id}"},
	                                 {"DELETE", "/api/v1/notes/{id}"}};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		cr_expect_eq(may(writes[i][0], writes[i][1], 7, true), VERR_FORBIDDEN);
		cr_expect_eq(may(writes[i][0], writes[i][1], 7, false), VERR_OK);
		cr_expect_eq(may(writes[i][0], writes[i][1], 0, false), VERR_OK);
	}
	/* Tokens and the account: a login only. */
	const char *const account[][2] = {
	    {"GET", "/api/v1/tokens"},         {"POST", "/api/v1/tokens"},
	    {"DELETE", "/api/v1/tokens/{id}"}, {"DELETE", "/api/v1/auth/me"},
	    {"POST", "/api/v1/auth/logout"},   {"POST", "/api/v1/auth/login"},
	    {"POST", "/api/v1/auth/refresh"},  {"POST", "/api/v1/auth/register"},
	};
	for (size_t i = 0; i < sizeof(account) / sizeof(account[0]); i++) {
		cr_expect_eq(may(account[i][0], account[i][1], 7, false), VERR_FORBIDDEN, "%s %s",
		             account[i][0], account[i][1]);
		cr_expect_eq(may(account[i][0], account[i][1], 0, false), VERR_OK);
	}
	/* Every route that is not a GET says whether it writes: none is left to a handler. */
	for (const struct api_route *r = api_routes; r->method; r++)
		if ((r->flags & API_AUTH) && !(r->flags & API_ACCOUNT) && strcmp(r->method, "GET"))
			cr_expect_eq(api_route_writes(r), !(r->flags & API_READ), "%s %s",
			             r->method, r->pattern);

	/* A personal token sent to login, register or refresh is refused before any password. */
	struct verror e;
	struct api_req req = {.err = &e};
	cr_expect_eq(api_authorize(route("POST", "/api/v1/auth/login"), &req,
	                           "Bearer vault_pat_0123456789012345678901234567890123456789012"),
	             VERR_FORBIDDEN);
	cr_expect_eq(api_authorize(route("POST", "/api/v1/auth/login"), &req, NULL), VERR_OK);
}

Test(api, personal_token_form)
{
	const char ok[] = "vault_pat_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234";
	cr_assert_eq(strlen(ok), AUTH_TOKEN_LEN);
	cr_expect(auth_token_well_formed(ok, strlen(ok)));
	cr_expect(auth_token_is_pat(ok));
	cr_expect(!auth_token_well_formed(ok, strlen(ok) - 1));
	char bad[sizeof(ok)];
	memcpy(bad, ok, sizeof(ok));
	bad[20] = '=';
	cr_expect(!auth_token_well_formed(bad, strlen(bad)));
	memcpy(bad, ok, sizeof(ok));
	bad[0] = 'V';
	cr_expect(!auth_token_well_formed(bad, strlen(bad)));
	cr_expect(!auth_token_is_pat(bad));
	cr_expect(!auth_token_well_formed("vault_pat_", 10));
	cr_expect(!auth_token_is_pat("eyJhbGciOiJIUzI1NiJ9.e30.x"));
}
