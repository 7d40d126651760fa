/*
 * routes.c - the route table: every endpoint, its handler and what it needs.
 */
#include "api/api.h"
#include "api/mcp.h"
#include "api/v1/v1.h"
#include "core/metrics.h"

/* GET /health: the process answers. */
static enum verr health(struct api_req *req, struct api_resp *resp)
{
	(void)req;
	resp->body = json_pack("{s:s,s:s}", "status", "ok", "version", VAULT_VERSION);
	return VERR_OK;
}

/* GET /ready: the database answers too. */
static enum verr ready(struct api_req *req, struct api_resp *resp)
{
	enum verr rc = svc_ping(req->svc, req->err);
	if (rc)
		return rc;
	resp->body = json_pack("{s:s,s:s}", "status", "ready", "database", "ok");
	return VERR_OK;
}

/* GET /metrics: the process's counters for Prometheus (admission checked METRICS_TOKEN). */
static enum verr metrics(struct api_req *req, struct api_resp *resp)
{
	(void)req;
	resp->text = metrics_render();
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return VERR_OK;
}

const struct api_route api_routes[] = {
    {"GET", "/health", health, 200, 0},
    {"GET", "/ready", ready, 200, 0},
    {"GET", "/metrics", metrics, 200, API_METRICS},

    {"POST", "/api/v1/auth/register", v1_register, 201, API_PUBLIC | API_BODY},
    {"POST", "/api/v1/auth/login", v1_login, 200, API_PUBLIC | API_BODY},
    {"POST", "/api/v1/auth/refresh", v1_refresh, 200, API_PUBLIC | API_OPTIONAL_BODY},
    {"POST", "/api/v1/auth/logout", v1_logout, 204, API_AUTH | API_OPTIONAL_BODY},
    {"GET", "/api/v1/auth/me", v1_me, 200, API_AUTH},
    {"DELETE", "/api/v1/auth/me", v1_me_delete, 204, API_AUTH},

    {"POST", "/api/v1/notes", v1_notes_create, 201, API_AUTH | API_BODY},
    {"GET", "/api/v1/notes", v1_notes_list, 200, API_AUTH},
    {"GET", "/api/v1/notes/{id}", v1_notes_get, 200, API_AUTH},
    {"PUT", "/api/v1/notes/{id}", v1_notes_update, 200, API_AUTH | API_BODY},
    {"DELETE", "/api/v1/notes/{id}", v1_notes_delete, 204, API_AUTH},

    {"GET", "/api/v1/search", v1_search, 200, API_AUTH},
    {"POST", "/api/v1/search", v1_search_post, 200, API_AUTH | API_BODY},
    {"POST", "/api/v1/ask", v1_ask, 200, API_AUTH | API_BODY},
    {"GET", "/api/v1/index/status", v1_index_status, 200, API_AUTH},
    {"POST", "/api/v1/render", v1_render, 200, API_AUTH | API_BODY},

    {"POST", "/mcp", mcp_http, 200, API_AUTH | API_BODY},
    {0},
};
