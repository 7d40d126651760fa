/*
 * mcp.c - Model Context Protocol messages, answered by the /api/v1 handlers
 * (see mcp.h).
 */
#include "api/mcp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/v1/v1.h"
#include "core/mem.h"

/* Protocol revisions we speak, newest first: a client asking for another gets the first. */
static const char *const versions[] = {"2025-06-18", "2025-03-26", "2024-11-05", NULL};

#define RESOURCE_PREFIX "vault://notes/"
#define RESOURCES_PAGE  100

/* JSON-RPC error codes (2.0, and MCP's own for a missing resource). */
enum {
	RPC_PARSE = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_NO_METHOD = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_NO_RESOURCE = -32002,
};

/* Where a tool's arguments go in the API request. */
enum args { ARGS_BODY, ARGS_QUERY };

static const struct tool {
	const char *name;
	const char *description;
	const char *schema;
	api_handler handler;
	enum args args;
	bool id;    /* "id" is the note in the path, the rest the body */
	bool write; /* changes notes: not for read-only callers */
} tools[] = {
    {"search_notes",
     "Search the user's notes by meaning and by words. Returns the best notes, each with a 0-1 "
     "similarity and an excerpt of the passage that matched. Mode 'hybrid' (the default) "
     "combines both; 'keyword' finds exact words, names and codes; 'semantic' finds notes that "
     "say the same thing in other words.",
     "{\"type\":\"object\",\"properties\":{"
     "\"query\":{\"type\":\"string\",\"description\":\"What to look for: words or a question\"},"
     "\"mode\":{\"type\":\"string\",\"enum\":[\"hybrid\",\"semantic\",\"keyword\"]},"
     "\"top_k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20,"
     "\"description\":\"How many notes (default 5)\"},"
     "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
     "\"description\":\"Only notes that carry every one of these tags\"}},"
     "\"required\":[\"query\"]}",
     v1_search_post, ARGS_BODY, false, false},
    {"get_note", "Read one note in full: title, Markdown content, tags and dates.",
     "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\","
     "\"description\":\"The note's id, as search_notes and list_notes give it\"}},"
     "\"required\":[\"id\"]}",
     v1_notes_get, ARGS_QUERY, true, false},
    {"list_notes",
     "List the user's notes, newest first, a page at a time; with tags, only notes that carry "
     "every one of them. The answer says how many there are in all.",
     "{\"type\":\"object\",\"properties\":{"
     "\"tag\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
     "\"skip\":{\"type\":\"integer\",\"minimum\":0},"
     "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100}}}",
     v1_notes_list, ARGS_QUERY, false, false},
    {"create_note",
     "Write a new note. Content is Markdown; it is indexed for search within seconds.",
     "{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"},"
     "\"content\":{\"type\":\"string\"},"
     "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},\"required\":[\"title\"]}",
     v1_notes_create, ARGS_BODY, false, true},
    {"update_note",
     "Change a note: the fields given replace the note's (tags replace all its tags); the "
     "others stay.",
     "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
     "\"title\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"},"
     "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},\"required\":[\"id\"]}",
     v1_notes_update, ARGS_BODY, true, true},
    {"list_tags",
     "List the tags of the user's notes, most used first, each with how many notes carry it: "
     "useful before filtering search_notes or list_notes by tag.",
     "{\"type\":\"object\",\"properties\":{"
     "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,"
     "\"description\":\"How many tags (default 100)\"}}}",
     v1_tags, ARGS_QUERY, false, false},
    {"ask",
     "Answer a question from the user's own notes through the configured language model. The "
     "answer cites its sources as [1], [2], and the citations name the notes.",
     "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\"},"
     "\"top_k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20},"
     "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
     "\"required\":[\"question\"]}",
     v1_ask, ARGS_BODY, false, false},
};

#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

static json_t *rpc_error(json_t *id, int code, const char *message)
{
	return json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
	                 "error", "code", code, "message", message);
}

static json_t *rpc_result(json_t *id, json_t *result)
{
	return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *initialize(json_t *params)
{
	const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
	const char *version = versions[0];
	for (const char *const *v = versions; asked && *v; v++)
		if (strcmp(asked, *v) == 0)
			version = *v;
	return json_pack(
	    "{s:s,s:{s:{s:b},s:{s:b,s:b}},s:{s:s,s:s},s:s}", "protocolVersion", version,
	    "capabilities", "tools", "listChanged", 0, "resources", "listChanged", 0, "subscribe",
	    0, "serverInfo", "name", "vault", "version", VAULT_VERSION, "instructions",
	    "These are the user's own notes. Search them with search_notes before "
	    "answering from memory, read a whole note with get_note, and cite the notes "
	    "you used by title.");
}

static json_t *tools_list(const struct mcp_caller *who)
{
	json_t *list = json_array();
	for (size_t i = 0; i < NTOOLS; i++) {
		if (tools[i].write && !who->can_write)
			continue;
		json_t *schema = json_loads(tools[i].schema, 0, NULL);
		if (!schema)
			abort(); /* a typo in the table above */
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:o,s:{s:b}}", "name", tools[i].name, "description",
		                    tools[i].description, "inputSchema", schema, "annotations",
		                    "readOnlyHint", !tools[i].write));
	}
	return json_pack("{s:o}", "tools", list);
}

/* A tool's answer: the API's JSON as text and as structured content, or its error. */
static json_t *tool_result(json_t *body, const char *error)
{
	if (error)
		return json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", error,
		                 "isError", 1);
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *r = json_pack("{s:[{s:s,s:s}],s:O,s:b}", "content", "type", "text", "text",
	                      text ? text : "{}", "structuredContent", body, "isError", 0);
	free(text);
	return r;
}

/*
 * Runs handler for who with args as the API request's query (strings; an
 * array a key given once per item) or body; params[0] is "id" when given.
 */
static enum verr call_api(struct svc *svc, const struct config *cfg, const struct mcp_caller *who,
                          api_handler handler, enum args where, json_t *args, const char *id,
                          json_t **out, struct verror *err)
{
	struct api_kv query[64];
	size_t nquery = 0;
	char **owned = xcalloc(64, sizeof(char *));
	if (where == ARGS_QUERY) {
		const char *key;
		json_t *v;
		json_object_foreach(args, key, v)
		{
			size_t n = json_is_array(v) ? json_array_size(v) : 1;
			for (size_t k = 0; k < n && nquery < 64; k++) {
				json_t *item = json_is_array(v) ? json_array_get(v, k) : v;
				char *s = json_is_string(item)
				              ? xstrdup(json_string_value(item))
				              : json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
				owned[nquery] = s ? s : xstrdup("");
				query[nquery] = (struct api_kv){key, owned[nquery]};
				nquery++;
			}
		}
	}
	struct api_req req = {.svc = svc,
	                      .cfg = cfg,
	                      .params = {id},
	                      .query = query,
	                      .nquery = nquery,
	                      .body = where == ARGS_BODY ? args : NULL,
	                      .user_id = who->user_id,
	                      .err = err};
	struct api_resp resp = {0};
	enum verr rc = handler(&req, &resp);
	for (size_t i = 0; i < nquery; i++)
		free(owned[i]);
	free(owned);
	free(resp.location);
	free(resp.set_cookie);
	if (rc == VERR_OK && !resp.body)
		rc = verr_set(err, VERR_INTERNAL, "the operation gave no answer");
	*out = rc ? NULL : resp.body;
	if (rc)
		json_decref(resp.body);
	return rc;
}

/* The "id" argument as the path parameter the API reads ("12"), or NULL if it is not one. */
static char *id_arg(json_t *args)
{
	json_t *id = json_object_get(args, "id");
	if (json_is_integer(id))
		return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(id));
	if (json_is_string(id))
		return xstrdup(json_string_value(id));
	return NULL;
}

static json_t *tools_call(struct svc *svc, const struct config *cfg, const struct mcp_caller *who,
                          json_t *reqid, json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	json_t *args = json_object_get(params, "arguments");
	const struct tool *t = NULL;
	for (size_t i = 0; name && i < NTOOLS; i++)
		if (strcmp(tools[i].name, name) == 0)
			t = &tools[i];
	if (!t)
		return rpc_error(reqid, RPC_INVALID_PARAMS, "unknown tool");
	if (args && !json_is_object(args))
		return rpc_error(reqid, RPC_INVALID_PARAMS, "arguments: must be an object");
	if (t->write && !who->can_write)
		return rpc_result(reqid,
		                  tool_result(NULL, "This connection is read-only (a read token, "
		                                    "or --read-only): it may only read notes"));

	json_t *copy = args ? json_deep_copy(args) : json_object();
	char *id = NULL;
	if (t->id) {
		if (!(id = id_arg(copy))) {
			json_decref(copy);
			return rpc_result(reqid, tool_result(NULL, "id: must be a note's id"));
		}
		json_object_del(copy, "id");
	}
	if (t->handler == v1_ask) /* the answer whole: a tool call has one result */
		json_object_set_new(copy, "stream", json_false());
	struct verror err = {0};
	json_t *body = NULL;
	enum verr rc = call_api(svc, cfg, who, t->handler, t->args, copy, id, &body, &err);
	json_decref(copy);
	free(id);
	json_t *result = tool_result(body, rc ? api_public_detail(cfg, &err) : NULL);
	json_decref(body);
	return rpc_result(reqid, result);
}

static json_t *resources_list(struct svc *svc, const struct config *cfg,
                              const struct mcp_caller *who, json_t *reqid, json_t *params)
{
	const char *cursor = json_string_value(json_object_get(params, "cursor"));
	long long skip = cursor ? strtoll(cursor, NULL, 10) : 0;
	json_t *args = json_pack("{s:I,s:i}", "skip", (json_int_t)(skip > 0 ? skip : 0), "limit",
	                         RESOURCES_PAGE);
	struct verror err = {0};
	json_t *page = NULL;
	enum verr rc = call_api(svc, cfg, who, v1_notes_list, ARGS_QUERY, args, NULL, &page, &err);
	json_decref(args);
	if (rc)
		return rpc_error(reqid, RPC_INVALID_PARAMS, api_public_detail(cfg, &err));
	json_t *list = json_array(), *items = json_object_get(page, "items"), *n;
	size_t i;
	json_array_foreach(items, i, n)
	{
		char *uri = xasprintf(RESOURCE_PREFIX "%" JSON_INTEGER_FORMAT,
		                      json_integer_value(json_object_get(n, "id")));
		json_array_append_new(list, json_pack("{s:s,s:O,s:s}", "uri", uri, "name",
		                                      json_object_get(n, "title"), "mimeType",
		                                      "text/markdown"));
		free(uri);
	}
	json_t *result = json_pack("{s:o}", "resources", list);
	json_int_t total = json_integer_value(json_object_get(page, "total"));
	if (skip + (long long)json_array_size(items) < total) {
		char *next = xasprintf("%lld", skip + (long long)json_array_size(items));
		json_object_set_new(result, "nextCursor", json_string(next));
		free(next);
	}
	json_decref(page);
	return rpc_result(reqid, result);
}

static json_t *resources_read(struct svc *svc, const struct config *cfg,
                              const struct mcp_caller *who, json_t *reqid, json_t *params)
{
	const char *uri = json_string_value(json_object_get(params, "uri"));
	size_t plen = strlen(RESOURCE_PREFIX);
	if (!uri || strncmp(uri, RESOURCE_PREFIX, plen) != 0)
		return rpc_error(reqid, RPC_NO_RESOURCE,
		                 "no such resource: vault://notes/{id} only");
	struct verror err = {0};
	json_t *note = NULL;
	enum verr rc =
	    call_api(svc, cfg, who, v1_notes_get, ARGS_QUERY, NULL, uri + plen, &note, &err);
	if (rc)
		return rpc_error(reqid, rc == VERR_NOT_FOUND ? RPC_NO_RESOURCE : RPC_INVALID_PARAMS,
		                 api_public_detail(cfg, &err));
	json_t *result = json_pack("{s:[{s:s,s:s,s:O}]}", "contents", "uri", uri, "mimeType",
	                           "text/markdown", "text", json_object_get(note, "content"));
	json_decref(note);
	return rpc_result(reqid, result);
}

json_t *mcp_handle(struct svc *svc, const struct config *cfg, const struct mcp_caller *who,
                   json_t *msg)
{
	if (!msg)
		return rpc_error(NULL, RPC_PARSE, "not JSON");
	if (!json_is_object(msg))
		return rpc_error(NULL, RPC_INVALID_REQUEST, "a message is one JSON-RPC object");
	json_t *id = json_object_get(msg, "id");
	const char *method = json_string_value(json_object_get(msg, "method"));
	if (!method) /* a response to us (we ask nothing) or junk without an id */
		return id && !json_object_get(msg, "result") && !json_object_get(msg, "error")
		           ? rpc_error(id, RPC_INVALID_REQUEST, "method: required")
		           : NULL;
	if (!id) /* a notification: nothing to answer */
		return NULL;
	if (!json_is_string(id) && !json_is_integer(id))
		return rpc_error(NULL, RPC_INVALID_REQUEST, "id: must be a string or an integer");
	const char *jsonrpc = json_string_value(json_object_get(msg, "jsonrpc"));
	if (!jsonrpc || strcmp(jsonrpc, "2.0") != 0)
		return rpc_error(id, RPC_INVALID_REQUEST, "jsonrpc: must be \"2.0\"");
	json_t *params = json_object_get(msg, "params");
	if (params && !json_is_object(params))
		return rpc_error(id, RPC_INVALID_PARAMS, "params: must be an object");

	if (strcmp(method, "initialize") == 0)
		return rpc_result(id, initialize(params));
	if (strcmp(method, "ping") == 0)
		return rpc_result(id, json_object());
	if (strcmp(method, "tools/list") == 0)
		return rpc_result(id, tools_list(who));
	if (strcmp(method, "tools/call") == 0)
		return tools_call(svc, cfg, who, id, params);
	if (strcmp(method, "resources/list") == 0)
		return resources_list(svc, cfg, who, id, params);
	if (strcmp(method, "resources/templates/list") == 0)
		return rpc_result(id, json_pack("{s:[{s:s,s:s,s:s,s:s}]}", "resourceTemplates",
		                                "uriTemplate", RESOURCE_PREFIX "{id}", "name",
		                                "note", "description", "A note's Markdown content",
		                                "mimeType", "text/markdown"));
	if (strcmp(method, "resources/read") == 0)
		return resources_read(svc, cfg, who, id, params);
	return rpc_error(id, RPC_NO_METHOD, "method not found");
}

enum verr mcp_http(struct api_req *req, struct api_resp *resp)
{
	/* A read-only token was let through /mcp (API_READ): its tools are the reading ones. */
	struct mcp_caller who = {.user_id = req->user_id, .can_write = !req->read_only};
	resp->body = mcp_handle(req->svc, req->cfg, &who, req->body);
	if (!resp->body)
		resp->status = 202;
	return VERR_OK;
}
