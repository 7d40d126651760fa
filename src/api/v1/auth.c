/*
 * auth.c - /api/v1/auth: register, login, refresh, logout, me.
 */
#include <string.h>

#include "api/v1/v1.h"
#include "core/config.h"
#include "core/mem.h"
#include "services/auth.h"

static json_t *user_json(const struct user *u)
{
	return json_pack("{s:I,s:s,s:o}", "id", (json_int_t)u->id, "email", u->email, "created_at",
	                 api_time(u->created_at));
}

static json_t *tokens_json(const struct auth_tokens *t)
{
	return json_pack("{s:s,s:s,s:s,s:I}", "access_token", t->access_token, "refresh_token",
	                 t->refresh_token, "token_type", "bearer", "expires_in",
	                 (json_int_t)t->expires_in);
}

/*
 * The refresh token as a cookie for the web page on the same origin: out of
 * reach of scripts (HttpOnly), never sent by another site (SameSite=Strict),
 * only to the auth routes (Path). Secure in production, where TLS is expected
 * in front; a development server on plain http://127.0.0.1 could not keep it
 * otherwise. token NULL clears the cookie. Caller frees.
 */
static char *refresh_cookie(const struct config *cfg, const char *token)
{
	return xasprintf("%s=%s; Path=/api/v1/auth; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
	                 API_REFRESH_COOKIE, token ? token : "",
	                 token ? (long long)cfg->refresh_token_expire_days * 86400 : 0LL,
	                 cfg->environment == ENV_PRODUCTION ? "; Secure" : "");
}

/* POST /api/v1/auth/register {email, password} */
enum verr v1_register(struct api_req *req, struct api_resp *resp)
{
	const char *email, *password;
	struct user u;
	enum verr rc;
	if ((rc = api_body_string(req, "email", true, &email)) ||
	    (rc = api_body_string(req, "password", true, &password)) ||
	    (rc = auth_register(req->svc, email, password, &u, req->err)))
		return rc;
	resp->body = user_json(&u);
	return VERR_OK;
}

/* POST /api/v1/auth/login {email, password} */
enum verr v1_login(struct api_req *req, struct api_resp *resp)
{
	const char *email, *password;
	struct auth_tokens t;
	enum verr rc;
	if ((rc = api_body_string(req, "email", true, &email)) ||
	    (rc = api_body_string(req, "password", true, &password)) ||
	    (rc = auth_login(req->svc, email, password, &t, req->err)))
		return rc;
	resp->body = tokens_json(&t);
	resp->set_cookie = refresh_cookie(req->cfg, t.refresh_token);
	auth_tokens_free(&t);
	return VERR_OK;
}

/* POST /api/v1/auth/refresh [{refresh_token}], else the refresh cookie */
enum verr v1_refresh(struct api_req *req, struct api_resp *resp)
{
	const char *token;
	struct auth_tokens t;
	enum verr rc;
	bool cookie = !(req->body && json_object_get(req->body, "refresh_token")) &&
	              req->refresh_cookie && *req->refresh_cookie;
	if (cookie)
		token = req->refresh_cookie;
	else if ((rc = api_body_string(req, "refresh_token", true, &token)))
		return rc;
	if ((rc = auth_refresh(req->svc, token, &t, req->err)))
		return rc;
	resp->body = tokens_json(&t);
	resp->set_cookie = refresh_cookie(req->cfg, t.refresh_token);
	auth_tokens_free(&t);
	return VERR_OK;
}

/*
 * POST /api/v1/auth/logout [{refresh_token}]: that login, else the one of
 * the refresh cookie, else every login of the user. Clears the cookie.
 */
enum verr v1_logout(struct api_req *req, struct api_resp *resp)
{
	const char *token;
	enum verr rc;
	if ((rc = api_body_string(req, "refresh_token", false, &token)))
		return rc;
	if (!token && req->refresh_cookie && *req->refresh_cookie)
		token = req->refresh_cookie;
	if ((rc = auth_logout(req->svc, req->user_id, token, req->err)))
		return rc;
	resp->set_cookie = refresh_cookie(req->cfg, NULL);
	return VERR_OK;
}

/* GET /api/v1/auth/me */
enum verr v1_me(struct api_req *req, struct api_resp *resp)
{
	struct user u;
	enum verr rc = auth_user_get(req->svc, req->user_id, &u, req->err);
	if (rc == VERR_OK)
		resp->body = user_json(&u);
	return rc;
}

/* DELETE /api/v1/auth/me */
enum verr v1_me_delete(struct api_req *req, struct api_resp *resp)
{
	(void)resp;
	return auth_user_delete(req->svc, req->user_id, req->err);
}
