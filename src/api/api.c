/*
 * api.c - request helpers shared by every route: query, body fields, ids.
 */
#include "api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/timeutil.h"
#include "services/auth.h"

/* The token of "Bearer <token>", or NULL. */
static const char *bearer(const char *authorization)
{
	static const char scheme[] = "Bearer ";
	if (!authorization || strncasecmp(authorization, scheme, sizeof(scheme) - 1) != 0)
		return NULL;
	const char *token = authorization + sizeof(scheme) - 1;
	while (*token == ' ')
		token++;
	return token;
}

enum verr api_authenticate(struct api_req *req, const char *authorization)
{
	if (!authorization || !*authorization)
		return verr_set(req->err, VERR_UNAUTHORIZED, "Not authenticated");
	const char *token = bearer(authorization);
	if (!token)
		return verr_set(req->err, VERR_UNAUTHORIZED,
		                "Authorization header must be: Bearer <token>");
	struct auth_caller who;
	enum verr rc = auth_authenticate(req->svc, token, &who, req->err);
	if (rc == VERR_OK) {
		req->user_id = who.user_id;
		req->token_id = who.token_id;
		req->read_only = who.read_only;
	}
	return rc;
}

bool api_route_writes(const struct api_route *r)
{
	return strcmp(r->method, "GET") != 0 && !(r->flags & API_READ);
}

enum verr api_authorize(const struct api_route *r, struct api_req *req, const char *authorization)
{
	const char *token = bearer(authorization);
	bool pat = req->token_id || (token && auth_token_is_pat(token));
	if (pat && (r->flags & API_ACCOUNT))
		return verr_set(req->err, VERR_FORBIDDEN,
		                "A personal access token cannot manage tokens or the account: "
		                "sign in with your password");
	if (req->read_only && api_route_writes(r))
		return verr_set(req->err, VERR_FORBIDDEN,
		                "This personal access token is read-only: it cannot %s %s",
		                r->method, r->pattern);
	return VERR_OK;
}

const char *api_public_detail(const struct config *cfg, const struct verror *err)
{
	bool show = verr_status(err->code) < 500 || err->code == VERR_AI_UNAVAILABLE ||
	            (cfg->debug && cfg->environment == ENV_DEVELOPMENT);
	return show ? verr_detail(err) : verr_message(err->code);
}

int api_sse_send(struct api_sse *sse, const char *event, json_t *data)
{
	return sse->send(sse, event, data);
}

int api_sse_gone(struct api_sse *sse)
{
	return sse->gone(sse);
}

const char *api_query(const struct api_req *req, const char *key)
{
	const char *v = NULL;
	for (size_t i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].key, key) == 0)
			v = req->query[i].value;
	return v;
}

static bool parse_int(const char *s, int64_t *out)
{
	char *end;
	if (!s || !*s || strchr(" \t+", *s))
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

enum verr api_query_int(const struct api_req *req, const char *key, int64_t def, int64_t min,
                        int64_t max, int64_t *out)
{
	const char *v = api_query(req, key);
	if (!v) {
		*out = def;
		return VERR_OK;
	}
	if (!parse_int(v, out) || *out < min || *out > max)
		return verr_set(req->err, VERR_INVALID,
		                "%s: must be a whole number from %lld to %lld", key, (long long)min,
		                (long long)max);
	return VERR_OK;
}

enum verr api_body_string(const struct api_req *req, const char *name, bool required,
                          const char **out)
{
	json_t *v = req->body ? json_object_get(req->body, name) : NULL;
	*out = NULL;
	if (!v)
		return required ? verr_set(req->err, VERR_INVALID, "%s: field required", name)
		                : VERR_OK;
	if (!json_is_string(v))
		return verr_set(req->err, VERR_INVALID, "%s: must be a string", name);
	*out = json_string_value(v);
	return VERR_OK;
}

enum verr api_body_strings(const struct api_req *req, const char *name, const char ***out,
                           size_t *n, bool *present)
{
	json_t *v = req->body ? json_object_get(req->body, name) : NULL;
	*out = NULL;
	*n = 0;
	*present = v != NULL;
	if (!v)
		return VERR_OK;
	if (!json_is_array(v))
		return verr_set(req->err, VERR_INVALID, "%s: must be an array of strings", name);
	size_t count = json_array_size(v);
	const char **arr = xcalloc(count ? count : 1, sizeof(char *));
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(v, i);
		if (!json_is_string(item)) {
			free(arr);
			return verr_set(req->err, VERR_INVALID, "%s[%zu]: must be a string", name,
			                i);
		}
		arr[i] = json_string_value(item);
	}
	*out = arr;
	*n = count;
	return VERR_OK;
}

enum verr api_body_tags(const struct api_req *req, const char ***out, size_t *n)
{
	bool present;
	json_t *one = req->body ? json_object_get(req->body, "tag") : NULL;
	if (json_is_string(one)) {
		*out = xcalloc(1, sizeof(char *));
		(*out)[0] = json_string_value(one);
		*n = 1;
		return VERR_OK;
	}
	return api_body_strings(req, one ? "tag" : "tags", out, n, &present);
}

const char **api_query_all(const struct api_req *req, const char *key, size_t *n)
{
	const char **all = xcalloc(req->nquery + 1, sizeof(char *));
	*n = 0;
	for (size_t i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].key, key) == 0)
			all[(*n)++] = req->query[i].value;
	return all;
}

enum verr api_param_id(const struct api_req *req, int i, const char *not_found, int64_t *out)
{
	const char *s = req->params[i];
	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || !parse_int(s, out) || *out <= 0)
		return verr_set(req->err, VERR_NOT_FOUND, "%s", not_found);
	return VERR_OK;
}

json_t *api_time(int64_t ms)
{
	char buf[TIME_ISO_LEN];
	time_format_iso(ms, buf);
	return json_string(buf);
}

json_t *api_note_json(const struct note *n, bool with_content)
{
	static const char *const status[] = {"pending", "ready", "failed"};
	json_t *tags = json_array();
	for (size_t i = 0; i < n->ntags; i++)
		json_array_append_new(tags, json_string(n->tags[i]));
	json_t *o = json_pack("{s:I,s:s}", "id", (json_int_t)n->id, "title", n->title);
	if (with_content)
		json_object_set_new(o, "content", json_string(n->content));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "embedding_status", json_string(status[n->embedding_status]));
	json_object_set_new(o, "created_at", api_time(n->created_at));
	json_object_set_new(o, "updated_at", api_time(n->updated_at));
	if (n->source_path) { /* an imported file's */
		json_t *aliases = json_array();
		for (size_t i = 0; i < n->naliases; i++)
			json_array_append_new(aliases, json_string(n->aliases[i]));
		json_object_set_new(o, "source_path", json_string(n->source_path));
		json_object_set_new(o, "aliases", aliases);
	}
	return o;
}
