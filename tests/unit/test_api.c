/*
 * test_api.c - what a client may read of an error: 4xx and AI-unavailable
 * details, never the internals of another 5xx (the streamed ask's error
 * event used to send them), unless DEBUG on a development server.
 */
#include <criterion/criterion.h>

#include "api/api.h"

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
