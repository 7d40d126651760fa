/*
 * tokens.c - /api/v1/tokens: a user's personal access tokens. Routes
 * flagged API_ACCOUNT: only a login's access token reaches them, never a
 * personal access token (see admit() in http/server.c).
 */
#include <stdlib.h>
#include <string.h>

#include "api/v1/v1.h"
#include "services/auth.h"

static json_t *token_json(const struct api_token *t)
{
	json_t *o =
	    json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)t->id, "name", t->name, "scope",
	              t->write ? "write" : "read", "created_at", api_time(t->created_at));
	json_object_set_new(o, "last_used_at",
	                    t->last_used_at ? api_time(t->last_used_at) : json_null());
	json_object_set_new(o, "expires_at", t->expires_at ? api_time(t->expires_at) : json_null());
	return o;
}

/* POST /api/v1/tokens {name, scope: "read"|"write", expires_in_days?} */
enum verr v1_tokens_create(struct api_req *req, struct api_resp *resp)
{
	const char *name, *scope;
	json_t *days = json_object_get(req->body, "expires_in_days");
	int64_t expires_in_days = 0;
	struct api_token t;
	char *secret;
	enum verr rc;
	if ((rc = api_body_string(req, "name", true, &name)) ||
	    (rc = api_body_string(req, "scope", true, &scope)))
		return rc;
	if (strcmp(scope, "read") != 0 && strcmp(scope, "write") != 0)
		return verr_set(req->err, VERR_INVALID, "scope: must be \"read\" or \"write\"");
	if (days && !json_is_null(days)) {
		if (!json_is_integer(days) || json_integer_value(days) < 1 ||
		    json_integer_value(days) > AUTH_TOKEN_DAYS_MAX)
			return verr_set(req->err, VERR_INVALID,
			                "expires_in_days: must be a whole number from 1 to %d, or "
			                "left out for a token that never expires",
			                AUTH_TOKEN_DAYS_MAX);
		expires_in_days = json_integer_value(days);
	}
	if ((rc = auth_token_create(req->svc, req->user_id, name, strcmp(scope, "write") == 0,
	                            expires_in_days, &t, &secret, req->err)))
		return rc;
	resp->body = token_json(&t);
	json_object_set_new(resp->body, "token", json_string(secret));
	explicit_bzero(secret, strlen(secret));
	free(secret);
	return VERR_OK;
}

/* GET /api/v1/tokens */
enum verr v1_tokens_list(struct api_req *req, struct api_resp *resp)
{
	struct api_token *list;
	size_t n;
	enum verr rc = auth_token_list(req->svc, req->user_id, &list, &n, req->err);
	if (rc)
		return rc;
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, token_json(&list[i]));
	free(list);
	resp->body = json_pack("{s:o}", "items", items);
	return VERR_OK;
}

/* DELETE /api/v1/tokens/{id} */
enum verr v1_tokens_delete(struct api_req *req, struct api_resp *resp)
{
	(void)resp;
	int64_t id;
	enum verr rc = api_param_id(req, 0, "No such token", &id);
	return rc ? rc : auth_token_revoke(req->svc, req->user_id, id, req->err);
}
