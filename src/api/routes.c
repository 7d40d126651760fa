/*
 * routes.c - the route table: every endpoint, its handler and what it needs.
 */
#include "api/api.h"
#include "api/mcp.h"
#include "api/openapi.h"
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
	struct metrics_gauges g;
	svc_metrics_gauges(req->svc, &g);
	resp->text = metrics_render(&g);
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return VERR_OK;
}

/* GET /openapi.json: this table as an OpenAPI 3.1 document. */
static enum verr openapi(struct api_req *req, struct api_resp *resp)
{
	(void)req;
	resp->body = api_openapi();
	return VERR_OK;
}

/*
 * Method, pattern, handler, status, flags (API_ACCOUNT and API_READ decide
 * what a personal access token may do: api_authorize); then for the OpenAPI document
 * a summary and the schemas (api/openapi.c) of the query, body and answer,
 * and another media type of the answer.
 */
const struct api_route api_routes[] = {
    {"GET", "/health", health, 200, 0, "The process answers", NULL, NULL, "Health"},
    {"GET", "/ready", ready, 200, 0, "The database answers too", NULL, NULL, "Ready"},
    {"GET", "/metrics", metrics, 200, API_METRICS,
     "Prometheus metrics (off unless METRICS_TOKEN is set)", NULL, NULL, NULL,
     "text/plain; version=0.0.4"},
    {"GET", "/openapi.json", openapi, 200, 0, "This document", NULL, NULL, "OpenAPI"},

    {"POST", "/api/v1/auth/register", v1_register, 201, API_PUBLIC | API_BODY | API_ACCOUNT,
     "Create an account", NULL, "Credentials", "User"},
    {"POST", "/api/v1/auth/login", v1_login, 200, API_PUBLIC | API_BODY | API_ACCOUNT,
     "Sign in: an access token, and a refresh token (also as the vault_refresh cookie)", NULL,
     "Credentials", "Tokens"},
    {"POST", "/api/v1/auth/refresh", v1_refresh, 200, API_PUBLIC | API_OPTIONAL_BODY | API_ACCOUNT,
     "New tokens for a refresh token, which is spent", NULL, "RefreshToken", "Tokens"},
    {"POST", "/api/v1/auth/logout", v1_logout, 204, API_AUTH | API_OPTIONAL_BODY | API_ACCOUNT,
     "End the login of the refresh token given, or every login", NULL, "RefreshToken"},
    {"GET", "/api/v1/auth/me", v1_me, 200, API_AUTH, "The signed-in user", NULL, NULL, "User"},
    {"DELETE", "/api/v1/auth/me", v1_me_delete, 204, API_AUTH | API_ACCOUNT,
     "Delete the account and all its notes"},

    {"POST", "/api/v1/tokens", v1_tokens_create, 201, API_AUTH | API_BODY | API_ACCOUNT,
     "Create a personal access token: the answer is the only time it is shown", NULL, "TokenInput",
     "NewToken"},
    {"GET", "/api/v1/tokens", v1_tokens_list, 200, API_AUTH | API_ACCOUNT,
     "Your personal access tokens (never the tokens themselves)", NULL, NULL, "TokenList"},
    {"DELETE", "/api/v1/tokens/{id}", v1_tokens_delete, 204, API_AUTH | API_ACCOUNT,
     "Revoke a personal access token, at once"},

    {"POST", "/api/v1/notes", v1_notes_create, 201, API_AUTH | API_BODY, "Create a note", NULL,
     "NoteInput", "Note"},
    {"GET", "/api/v1/notes", v1_notes_list, 200, API_AUTH, "Notes, newest first", "NotesQuery",
     NULL, "NotePage"},
    {"GET", "/api/v1/notes/{id}", v1_notes_get, 200, API_AUTH, "One note", "NoteQuery", NULL,
     "Note"},
    {"PUT", "/api/v1/notes/{id}", v1_notes_update, 200, API_AUTH | API_BODY,
     "Change the fields given", NULL, "NoteInput", "Note"},
    {"DELETE", "/api/v1/notes/{id}", v1_notes_delete, 204, API_AUTH, "Delete a note"},
    {"GET", "/api/v1/notes/{id}/links", v1_notes_links, 200, API_AUTH,
     "The note's [[links]] (unresolved ones too) and the notes linking to it", NULL, NULL,
     "NoteLinks"},

    {"GET", "/api/v1/search", v1_search, 200, API_AUTH, "Search your notes", "SearchQuery", NULL,
     "SearchResults"},
    {"POST", "/api/v1/search", v1_search_post, 200, API_AUTH | API_BODY | API_READ,
     "Search your notes (the query as JSON)", NULL, "SearchRequest", "SearchResults"},
    {"POST", "/api/v1/ask", v1_ask, 200, API_AUTH | API_BODY | API_READ,
     "An answer from your notes, with citations", NULL, "AskRequest", "Answer",
     "text/event-stream"},
    {"GET", "/api/v1/index/status", v1_index_status, 200, API_AUTH,
     "Your chunks pending, ready, failed and stale, and the embedding model", NULL, NULL,
     "IndexStatus"},
    {"GET", "/api/v1/tags", v1_tags, 200, API_AUTH, "Your tags, most used first, with their counts",
     "TagsQuery", NULL, "TagList"},
    {"POST", "/api/v1/import", v1_import, 200, API_AUTH | API_UPLOAD,
     "Notes from files: Markdown, text, PDF, or a zipped folder (an Obsidian vault)", "ImportQuery",
     NULL, "ImportReport"},
    {"GET", "/api/v1/export", v1_export, 200, API_AUTH,
     "Every note as a Markdown file with YAML front matter, in a zip", NULL, NULL, NULL,
     "application/zip"},
    {"POST", "/api/v1/render", v1_render, 200, API_AUTH | API_BODY | API_READ,
     "Markdown rendered as a note's content is", NULL, "RenderRequest", "Rendered"},

    {"POST", "/mcp", mcp_http, 200, API_AUTH | API_BODY | API_READ,
     "Model Context Protocol, Streamable HTTP (one JSON-RPC message a request)", NULL,
     "JsonRpcRequest", "JsonRpcResponse"},
    {0},
};
