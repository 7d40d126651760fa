/*
 * openapi.c - the OpenAPI 3.1 document of every route (see openapi.h).
 *
 * What a route is (method, path, status, authentication, body) comes from
 * the route table itself; what each route adds for people (a summary, its
 * query parameters, the shapes of its body and answer) sits next to it in
 * that table and names a schema of SCHEMAS below. So the document cannot
 * list a route the server lacks, or miss one it has; and the integration
 * tests check every answer they receive against these schemas, so a shape
 * that drifts from the handler's fails them. Answers are described
 * strictly (additionalProperties false): a field added to a handler must
 * be added here too.
 */
#include "api/openapi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "services/notes.h"
#include "services/search.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

/* JSON Schema 2020-12 of every request and answer the routes name. */
static const char SCHEMAS
    [] = "{"
         "\"Error\": {\"type\": \"object\", \"required\": [\"detail\"],"
         "  \"additionalProperties\": false,"
         "  \"properties\": {\"detail\": {\"type\": \"string\","
         "    \"description\": \"What went wrong, for people\"}}},"
         "\"Health\": {\"type\": \"object\", \"required\": [\"status\", "
         "\"version\"],"
         "  \"additionalProperties\": false,"
         "  \"properties\": {\"status\": {\"const\": \"ok\"}, \"version\": "
         "{\"type\": \"string\"}}},"
         "\"Ready\": {\"type\": \"object\", \"required\": [\"status\", "
         "\"database\"],"
         "  \"additionalProperties\": false,"
         "  \"properties\": {\"status\": {\"const\": \"ready\"}, "
         "\"database\": {\"const\": \"ok\"}}},"
         "\"Credentials\": {\"type\": \"object\", \"required\": [\"email\", "
         "\"password\"],"
         "  \"properties\": {\"email\": {\"type\": \"string\", \"format\": "
         "\"email\"},"
         "    \"password\": {\"type\": \"string\", \"description\": \"8 to 72 "
         "bytes\"}}},"
         "\"RefreshToken\": {\"type\": \"object\","
         "  \"properties\": {\"refresh_token\": {\"type\": \"string\", "
         "\"description\":"
         "    \"The refresh token; without it, the vault_refresh "
         "cookie's\"}}},"
         "\"User\": {\"type\": \"object\", \"required\": [\"id\", \"email\", "
         "\"created_at\"],"
         "  \"additionalProperties\": false,"
         "  \"properties\": {\"id\": {\"type\": \"integer\"}, \"email\": "
         "{\"type\": \"string\"},"
         "    \"created_at\": {\"$ref\": \"#/components/schemas/Time\"}}},"
         "\"Tokens\": {\"type\": \"object\", \"additionalProperties\": false,"
         "  \"required\": [\"access_token\", \"refresh_token\", "
         "\"token_type\", \"expires_in\"],"
         "  \"properties\": {\"access_token\": {\"type\": \"string\"},"
         "    \"refresh_token\": {\"type\": \"string\"}, \"token_type\": "
         "{\"const\": \"bearer\"},"
         "    \"expires_in\": {\"type\": \"integer\", \"description\": "
         "\"Seconds the access token lives\"}}},"
         "\"Time\": {\"type\": \"string\", \"format\": \"date-time\","
         "  \"description\": \"UTC, with milliseconds\"},"
         "\"Tags\": {\"type\": \"array\", \"maxItems\": 32,"
         "  \"items\": {\"type\": \"string\", \"minLength\": 1, "
         "\"maxLength\": 64}},"
         "\"NoteInput\": {\"type\": \"object\", \"properties\": {"
         "  \"title\": {\"type\": \"string\", \"minLength\": 1, "
         "\"maxLength\": 200},"
         "  \"content\": {\"type\": \"string\", \"description\": \"Markdown, "
         "up to 1 MiB\"},"
         "  \"tags\": {\"$ref\": \"#/components/schemas/Tags\"}}},"
         "\"Note\": {\"type\": \"object\", \"additionalProperties\": false,"
         "  \"required\": [\"id\", \"title\", \"tags\", \"embedding_status\", "
         "\"created_at\","
         "    \"updated_at\"],"
         "  \"properties\": {\"id\": {\"type\": \"integer\"}, \"title\": "
         "{\"type\": \"string\"},"
         "    \"content\": {\"type\": \"string\"},"
         "    \"content_html\": {\"type\": \"string\", \"description\": "
         "\"With ?format=html\"},"
         "    \"tags\": {\"$ref\": \"#/components/schemas/Tags\"},"
         "    \"embedding_status\": {\"enum\": [\"pending\", \"ready\", "
         "\"failed\"]},"
         "    \"created_at\": {\"$ref\": \"#/components/schemas/Time\"},"
         "    \"updated_at\": {\"$ref\": \"#/components/schemas/Time\"},"
         "    \"source_path\": {\"type\": \"string\", \"description\":"
         "      \"An imported note's file, relative to the imported folder\"},"
         "    \"aliases\": {\"type\": \"array\", \"items\": {\"type\": "
         "\"string\"},"
         "      \"description\": \"An imported note's other names (front "
         "matter)\"}}},"
         "\"NoteLink\": {\"type\": \"object\", \"additionalProperties\": "
         "false,"
         "  \"required\": [\"target\", \"kind\", \"note_id\", \"title\"],"
         "  \"properties\": {\"target\": {\"type\": \"string\","
         "      \"description\": \"As written: [[target]]\"},"
         "    \"kind\": {\"enum\": [\"link\", \"embed\"]},"
         "    \"note_id\": {\"type\": [\"integer\", \"null\"], "
         "\"description\":"
         "      \"The other note (null: the link resolves to no note)\"},"
         "    \"title\": {\"type\": [\"string\", \"null\"]}}},"
         "\"NoteLinks\": {\"type\": \"object\", \"additionalProperties\": "
         "false,"
         "  \"required\": [\"outgoing\", \"backlinks\"],"
         "  \"properties\": {\"outgoing\": {\"type\": \"array\","
         "      \"items\": {\"$ref\": \"#/components/schemas/NoteLink\"}},"
         "    \"backlinks\": {\"type\": \"array\","
         "      \"items\": {\"$ref\": \"#/components/schemas/NoteLink\"}}}},"
         "\"TagsQuery\": {\"type\": \"object\", \"properties\": {"
         "  \"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000, \"default\": "
         "100}}},"
         "\"TagList\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": "
         "[\"tags\"],"
         "  \"properties\": {\"tags\": {\"type\": \"array\", \"items\": {\"type\": \"object\","
         "    \"additionalProperties\": false, \"required\": [\"tag\", \"notes\"], \"properties\": "
         "{"
         "      \"tag\": {\"type\": \"string\"}, \"notes\": {\"type\": \"integer\", \"minimum\": "
         "1}}}}}},"
         "\"Files\": {\"type\": \"object\", \"required\": [\"file\"], "
         "\"properties\": {"
         "  \"file\": {\"type\": \"array\", \"description\":"
         "    \"The files, each a part with its name: .md, .txt, .pdf, or a "
         ".zip of a folder\","
         "    \"items\": {\"type\": \"string\", \"contentMediaType\": "
         "\"application/octet-stream\"}}}},"
         "\"ImportQuery\": {\"type\": \"object\", \"properties\": {"
         "  \"dry_run\": {\"type\": \"boolean\", \"default\": false,"
         "    \"description\": \"Say what would change, change nothing\"}}},"
         "\"ImportReport\": {\"type\": \"object\", \"additionalProperties\": "
         "false,"
         "  \"required\": [\"dry_run\", \"added\", \"updated\", "
         "\"unchanged\", \"renamed\","
         "    \"deleted\", \"kept\", \"failed\", \"files\"],"
         "  \"properties\": {\"dry_run\": {\"type\": \"boolean\"},"
         "    \"added\": {\"type\": \"integer\"}, \"updated\": {\"type\": "
         "\"integer\"},"
         "    \"unchanged\": {\"type\": \"integer\"}, \"renamed\": {\"type\": "
         "\"integer\"},"
         "    \"deleted\": {\"type\": \"integer\"}, \"kept\": {\"type\": "
         "\"integer\"},"
         "    \"failed\": {\"type\": \"integer\"},"
         "    \"files\": {\"type\": \"array\", \"description\":"
         "      \"Every file but those unchanged without a warning, by path\","
         "      \"items\": {\"type\": \"object\", \"additionalProperties\": "
         "false,"
         "        \"required\": [\"path\", \"outcome\"], \"properties\": {"
         "          \"path\": {\"type\": \"string\"},"
         "          \"outcome\": {\"enum\": [\"added\", \"updated\", "
         "\"unchanged\", \"renamed\","
         "            \"deleted\", \"kept\", \"failed\"]},"
         "          \"from\": {\"type\": \"string\", \"description\": \"A "
         "renamed file's old path\"},"
         "          \"detail\": {\"type\": \"string\","
         "            \"description\": \"Why it failed, or a warning\"}}}}}},"
         "\"NotePage\": {\"type\": \"object\", \"additionalProperties\": "
         "false,"
         "  \"required\": [\"items\", \"total\", \"skip\", \"limit\"],"
         "  \"properties\": {\"items\": {\"type\": \"array\","
         "    \"items\": {\"$ref\": \"#/components/schemas/Note\"}},"
         "    \"total\": {\"type\": \"integer\"}, \"skip\": {\"type\": "
         "\"integer\"},"
         "    \"limit\": {\"type\": \"integer\"}}},"
         "\"NotesQuery\": {\"type\": \"object\", \"properties\": {"
         "  \"skip\": {\"type\": \"integer\", \"minimum\": 0, \"default\": 0},"
         "  \"limit\": {\"type\": \"integer\", \"minimum\": 1, "
         "\"maximum\": " STR(NOTES_LIMIT_MAX) ","
                                              "    \"default\": " STR(
                                                  NOTES_LIMIT_DEFAULT) "},"
                                                                       "  \"tag\": {\"type\": "
                                                                       "\"array\", "
                                                                       "\"items\": {\"type\": "
                                                                       "\"string\"},"
                                                                       "    \"description\": "
                                                                       "\"Notes carrying "
                                                                       "every tag given\"}}},"
                                                                       "\"NoteQuery\": "
                                                                       "{\"type\": "
                                                                       "\"object\", "
                                                                       "\"properties\": {"
                                                                       "  \"format\": "
                                                                       "{\"enum\": [\"json\", "
                                                                       "\"html\"], "
                                                                       "\"default\": \"json\","
                                                                       "    \"description\": "
                                                                       "\"html adds "
                                                                       "content_html, the "
                                                                       "Markdown "
                                                                       "rendered\"}}},"
                                                                       "\"SearchQuery\": "
                                                                       "{\"type\": "
                                                                       "\"object\", "
                                                                       "\"required\": "
                                                                       "[\"query\"], "
                                                                       "\"properties\": "
                                                                       "{"
                                                                       "  \"query\": "
                                                                       "{\"type\": "
                                                                       "\"string\"},"
                                                                       "  \"top_k\": "
                                                                       "{\"type\": "
                                                                       "\"integer\", "
                                                                       "\"minimum\": 1, "
                                                                       "\"maximum\": " STR(SEARCH_TOP_K_MAX) ","
                                                                                                             "    \"default\": " STR(SEARCH_TOP_K_DEFAULT) "},"
                                                                                                                                                           "  \"mode\": {\"enum\": [\"hybrid\", \"semantic\", \"keyword\"], \"default\": \"hybrid\"},"
                                                                                                                                                           "  \"tag\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
                                                                                                                                                           "  \"min_similarity\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1}}},"
                                                                                                                                                           "\"SearchRequest\": {\"type\": \"object\", \"required\": [\"query\"], \"properties\": {"
                                                                                                                                                           "  \"query\": {\"type\": \"string\"},"
                                                                                                                                                           "  \"top_k\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": " STR(
                                                                                                                                                               SEARCH_TOP_K_MAX) ","
                                                                                                                                                                                 "    \"default\": " STR(SEARCH_TOP_K_DEFAULT) "},"
                                                                                                                                                                                                                               "  \"mode\": {\"enum\": [\"hybrid\", \"semantic\", \"keyword\"], \"default\": \"hybrid\"},"
                                                                                                                                                                                                                               "  \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
                                                                                                                                                                                                                               "  \"tag\": {\"type\": [\"string\", \"array\"], \"items\": {\"type\": \"string\"}},"
                                                                                                                                                                                                                               "  \"min_similarity\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1}}},"
                                                                                                                                                                                                                               "\"SearchResults\": {\"type\": \"object\", \"additionalProperties\": false,"
                                                                                                                                                                                                                               "  \"required\": [\"query\", \"mode\", \"top_k\", \"results\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"query\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "    \"mode\": {\"enum\": [\"hybrid\", \"semantic\", \"keyword\"]},"
                                                                                                                                                                                                                               "    \"top_k\": {\"type\": \"integer\"},"
                                                                                                                                                                                                                               "    \"results\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/components/schemas/Hit\"}},"
                                                                                                                                                                                                                               "    \"fallback\": {\"type\": \"object\", \"additionalProperties\": false,"
                                                                                                                                                                                                                               "      \"required\": [\"mode\", \"reason\"], \"description\":"
                                                                                                                                                                                                                               "      \"Hybrid search answered by keywords alone, and why\","
                                                                                                                                                                                                                               "      \"properties\": {\"mode\": {\"const\": \"keyword\"}, \"reason\": {\"type\": \"string\"}}}}},"
                                                                                                                                                                                                                               "\"Hit\": {\"type\": \"object\", \"additionalProperties\": false,"
                                                                                                                                                                                                                               "  \"required\": [\"id\", \"title\", \"tags\", \"embedding_status\", \"created_at\","
                                                                                                                                                                                                                               "    \"updated_at\", \"similarity\", \"score\", \"excerpt\", \"section\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"id\": {\"type\": \"integer\"}, \"title\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "    \"tags\": {\"$ref\": \"#/components/schemas/Tags\"},"
                                                                                                                                                                                                                               "    \"embedding_status\": {\"enum\": [\"pending\", \"ready\", \"failed\"]},"
                                                                                                                                                                                                                               "    \"created_at\": {\"$ref\": \"#/components/schemas/Time\"},"
                                                                                                                                                                                                                               "    \"updated_at\": {\"$ref\": \"#/components/schemas/Time\"},"
                                                                                                                                                                                                                               "    \"similarity\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1},"
                                                                                                                                                                                                                               "    \"score\": {\"type\": \"number\"}, \"excerpt\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "    \"source_path\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "    \"aliases\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
                                                                                                                                                                                                                               "    \"section\": {\"type\": \"string\", \"description\":"
                                                                                                                                                                                                                               "      \"The headings above the excerpt (an imported PDF's page), or empty\"}}},"
                                                                                                                                                                                                                               "\"AskRequest\": {\"type\": \"object\", \"required\": [\"question\"], \"properties\": {"
                                                                                                                                                                                                                               "  \"question\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "  \"top_k\": {\"type\": \"integer\", \"minimum\": 1},"
                                                                                                                                                                                                                               "  \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
                                                                                                                                                                                                                               "  \"tag\": {\"type\": [\"string\", \"array\"], \"items\": {\"type\": \"string\"}},"
                                                                                                                                                                                                                               "  \"stream\": {\"type\": \"boolean\", \"default\": false, \"description\":"
                                                                                                                                                                                                                               "    \"Answer as text/event-stream: token events, then citations and done\"}}},"
                                                                                                                                                                                                                               "\"Answer\": {\"type\": \"object\", \"additionalProperties\": false,"
                                                                                                                                                                                                                               "  \"required\": [\"answer\", \"citations\", \"model\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"answer\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "    \"citations\": {\"type\": \"array\", \"items\": {\"type\": \"object\","
                                                                                                                                                                                                                               "      \"additionalProperties\": false,"
                                                                                                                                                                                                                               "      \"required\": [\"index\", \"note_id\", \"title\", \"excerpt\", \"section\"],"
                                                                                                                                                                                                                               "      \"properties\": {\"index\": {\"type\": \"integer\"},"
                                                                                                                                                                                                                               "        \"note_id\": {\"type\": \"integer\"}, \"title\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "        \"excerpt\": {\"type\": \"string\"}, \"section\": {\"type\": \"string\"}}}},"
                                                                                                                                                                                                                               "    \"model\": {\"type\": [\"string\", \"null\"]}}},"
                                                                                                                                                                                                                               "\"IndexStatus\": {\"type\": \"object\", \"additionalProperties\": false,"
                                                                                                                                                                                                                               "  \"required\": [\"pending\", \"ready\", \"failed\", \"stale\", \"model\", \"dim\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"pending\": {\"type\": \"integer\"}, \"ready\": {\"type\": \"integer\"},"
                                                                                                                                                                                                                               "    \"failed\": {\"type\": \"integer\"}, \"stale\": {\"type\": \"integer\"},"
                                                                                                                                                                                                                               "    \"model\": {\"type\": \"string\"}, \"dim\": {\"type\": \"integer\"}}},"
                                                                                                                                                                                                                               "\"RenderRequest\": {\"type\": \"object\", \"required\": [\"content\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"content\": {\"type\": \"string\"}}},"
                                                                                                                                                                                                                               "\"Rendered\": {\"type\": \"object\", \"additionalProperties\": false,"
                                                                                                                                                                                                                               "  \"required\": [\"html\"], \"properties\": {\"html\": {\"type\": \"string\"}}},"
                                                                                                                                                                                                                               "\"JsonRpcRequest\": {\"type\": \"object\", \"required\": [\"jsonrpc\", \"method\"],"
                                                                                                                                                                                                                               "  \"description\": \"One Model Context Protocol message (JSON-RPC 2.0); a notification is"
                                                                                                                                                                                                                               "    answered 202 with no body\","
                                                                                                                                                                                                                               "  \"properties\": {\"jsonrpc\": {\"const\": \"2.0\"}, \"method\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "    \"id\": {\"type\": [\"string\", \"integer\"]}, \"params\": {\"type\": \"object\"}}},"
                                                                                                                                                                                                                               "\"JsonRpcResponse\": {\"type\": \"object\", \"required\": [\"jsonrpc\", \"id\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"jsonrpc\": {\"const\": \"2.0\"},"
                                                                                                                                                                                                                               "    \"id\": {\"type\": [\"string\", \"integer\", \"null\"]},"
                                                                                                                                                                                                                               "    \"result\": {\"type\": \"object\"},"
                                                                                                                                                                                                                               "    \"error\": {\"type\": \"object\", \"required\": [\"code\", \"message\"],"
                                                                                                                                                                                                                               "      \"properties\": {\"code\": {\"type\": \"integer\"},"
                                                                                                                                                                                                                               "        \"message\": {\"type\": \"string\"}}}}},"
                                                                                                                                                                                                                               "\"TokenInput\": {\"type\": \"object\", \"required\": [\"name\", \"scope\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 100},"
                                                                                                                                                                                                                               "    \"scope\": {\"enum\": [\"read\", \"write\"], \"description\":"
                                                                                                                                                                                                                               "      \"read: GET routes, search, ask and the MCP reading tools; write: notes too\"},"
                                                                                                                                                                                                                               "    \"expires_in_days\": {\"type\": [\"integer\", \"null\"], \"minimum\": 1,"
                                                                                                                                                                                                                               "      \"maximum\": 3650, \"description\": \"Left out or null: never expires\"}}},"
                                                                                                                                                                                                                               "\"Token\": {\"type\": \"object\", \"additionalProperties\": false,"
                                                                                                                                                                                                                               "  \"required\": [\"id\", \"name\", \"scope\", \"created_at\", \"last_used_at\", \"expires_at\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"id\": {\"type\": \"integer\"}, \"name\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "    \"scope\": {\"enum\": [\"read\", \"write\"]},"
                                                                                                                                                                                                                               "    \"created_at\": {\"$ref\": \"#/components/schemas/Time\"},"
                                                                                                                                                                                                                               "    \"last_used_at\": {\"oneOf\": [{\"$ref\": \"#/components/schemas/Time\"}, {\"type\": \"null\"}],"
                                                                                                                                                                                                                               "      \"description\": \"Kept to the minute\"},"
                                                                                                                                                                                                                               "    \"expires_at\": {\"oneOf\": [{\"$ref\": \"#/components/schemas/Time\"}, {\"type\": \"null\"}]}}},"
                                                                                                                                                                                                                               "\"NewToken\": {\"type\": \"object\", \"additionalProperties\": false,"
                                                                                                                                                                                                                               "  \"required\": [\"id\", \"name\", \"scope\", \"created_at\", \"last_used_at\", \"expires_at\","
                                                                                                                                                                                                                               "    \"token\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"id\": {\"type\": \"integer\"}, \"name\": {\"type\": \"string\"},"
                                                                                                                                                                                                                               "    \"scope\": {\"enum\": [\"read\", \"write\"]},"
                                                                                                                                                                                                                               "    \"created_at\": {\"$ref\": \"#/components/schemas/Time\"},"
                                                                                                                                                                                                                               "    \"last_used_at\": {\"type\": \"null\"},"
                                                                                                                                                                                                                               "    \"expires_at\": {\"oneOf\": [{\"$ref\": \"#/components/schemas/Time\"}, {\"type\": \"null\"}]},"
                                                                                                                                                                                                                               "    \"token\": {\"type\": \"string\", \"pattern\": \"^vault_pat_[A-Za-z0-9_-]{43}$\","
                                                                                                                                                                                                                               "      \"description\": \"The token: shown this once, stored only as a hash\"}}},"
                                                                                                                                                                                                                               "\"TokenList\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"items\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"items\": {\"type\": \"array\","
                                                                                                                                                                                                                               "    \"items\": {\"$ref\": \"#/components/schemas/Token\"}}}},"
                                                                                                                                                                                                                               "\"OpenAPI\": {\"type\": \"object\", \"required\": [\"openapi\", \"info\", \"paths\"],"
                                                                                                                                                                                                                               "  \"properties\": {\"openapi\": {\"type\": \"string\"}, \"info\": {\"type\": \"object\"},"
                                                                                                                                                                                                                               "    \"paths\": {\"type\": \"object\"}}}"
                                                                                                                                                                                                                               "}";

/* A query parameter or a response needs an object in o under key, made if missing. */
static json_t *child(json_t *o, const char *key)
{
	json_t *c = json_object_get(o, key);
	if (!c) {
		c = json_object();
		json_object_set_new(o, key, c);
	}
	return c;
}

static json_t *ref(const char *kind, const char *name)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "#/components/%s/%s", kind, name);
	return json_pack("{s:s}", "$ref", buf);
}

static void add_error(json_t *responses, int status, enum verr code)
{
	char key[8];
	snprintf(key, sizeof(key), "%d", status);
	json_object_set_new(responses, key,
	                    json_pack("{s:s,s:{s:{s:o}}}", "description", verr_message(code),
	                              "content", "application/json", "schema",
	                              ref("schemas", "Error")));
}

/* "get_api_v1_notes_id" of GET /api/v1/notes/{id}. */
static json_t *operation_id(const struct api_route *r)
{
	char buf[160];
	size_t n = 0;
	for (const char *m = r->method; *m && n < sizeof(buf) - 1; m++)
		buf[n++] = (char)(*m - 'A' + 'a');
	for (const char *p = r->pattern; *p && n < sizeof(buf) - 1; p++)
		if (*p == '/' || *p == '.' || *p == '-')
			buf[n++] = '_';
		else if (*p != '{' && *p != '}')
			buf[n++] = *p;
	buf[n] = '\0';
	return json_string(buf);
}

/* What each group of routes is; one missing fails the lint of the document. */
static const char *const groups[][2] = {
    {"server", "The server itself: health, readiness, metrics and this document"},
    {"auth", "Accounts, sign-in and tokens"},
    {"tokens", "Personal access tokens, for scripts and agents"},
    {"notes", "Your notes: Markdown with tags"},
    {"search", "Semantic, keyword and hybrid search of your notes"},
    {"ask", "Answers from your notes through a language model, with citations"},
    {"index", "The embedding of your notes"},
    {"tags", "The tags of your notes"},
    {"import", "Notes from files: Markdown, text, PDF, a zipped Obsidian vault"},
    {"export", "All your notes as Markdown files, to take anywhere"},
    {"render", "Markdown rendered as notes are"},
    {"mcp", "The Model Context Protocol, for AI agents"},
};

/* The group of a route in the reference: the segment after /api/v1/, "mcp", or "server". */
static json_t *tag(const struct api_route *r)
{
	static const char v1[] = "/api/v1/";
	if (strncmp(r->pattern, v1, sizeof(v1) - 1) == 0) {
		const char *seg = r->pattern + sizeof(v1) - 1;
		return json_stringn(seg, strcspn(seg, "/"));
	}
	return json_string(strcmp(r->pattern, "/mcp") == 0 ? "mcp" : "server");
}

static json_t *operation(const struct api_route *r, json_t *schemas)
{
	json_t *op = json_pack("{s:s,s:o,s:[o]}", "summary", r->summary, "operationId",
	                       operation_id(r), "tags", tag(r));
	json_t *params = json_array();
	/* Path parameters: the {name} captures of the pattern, all of them ids. */
	for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		json_array_append_new(params,
		                      json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1,
		                                (size_t)(end - p - 1), "in", "path", "required", 1,
		                                "schema", "type", "integer"));
	}
	/* Query parameters: the properties of the route's query schema. */
	json_t *q = r->query ? json_object_get(schemas, r->query) : NULL;
	json_t *required = json_object_get(q, "required");
	const char *name;
	json_t *prop;
	json_object_foreach(json_object_get(q, "properties"), name, prop)
	{
		bool req = false;
		size_t i;
		json_t *v;
		json_array_foreach(required, i, v) req |= strcmp(json_string_value(v), name) == 0;
		/* An array is the key repeated, ?tag=a&tag=b: OpenAPI's default form. */
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:O}", "name", name, "in",
		                                        "query", "required", req, "schema", prop));
	}
	if (json_array_size(params))
		json_object_set_new(op, "parameters", params);
	else
		json_decref(params);

	if (r->flags & API_UPLOAD)
		json_object_set_new(op, "requestBody",
		                    json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
		                              "multipart/form-data", "schema",
		                              ref("schemas", "Files")));
	if (r->request)
		json_object_set_new(
		    op, "requestBody",
		    json_pack("{s:b,s:{s:{s:o}}}", "required", !!(r->flags & API_BODY), "content",
		              "application/json", "schema", ref("schemas", r->request)));
	if (r->flags & API_AUTH)
		json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
	else if (r->flags & API_METRICS)
		json_object_set_new(op, "security", json_pack("[{s:[]}]", "metricsToken"));
	else
		json_object_set_new(op, "security", json_array()); /* public */

	json_t *responses = child(op, "responses");
	char status[8];
	snprintf(status, sizeof(status), "%d", r->ok_status);
	json_t *ok = json_pack("{s:s}", "description", verr_message(VERR_OK));
	if (r->response)
		json_object_set_new(child(child(ok, "content"), "application/json"), "schema",
		                    ref("schemas", r->response));
	if (r->media)
		json_object_set_new(child(ok, "content"), r->media,
		                    json_pack("{s:{s:s}}", "schema", "type", "string"));
	json_object_set_new(responses, status, ok);
	if (r->flags & (API_AUTH | API_METRICS))
		add_error(responses, 401, VERR_UNAUTHORIZED);
	/* What a personal access token may not do (api_authorize). */
	if ((r->flags & API_ACCOUNT) || ((r->flags & API_AUTH) && api_route_writes(r)))
		add_error(responses, 403, VERR_FORBIDDEN);
	if (strchr(r->pattern, '{') || (r->flags & API_METRICS))
		add_error(responses, 404, VERR_NOT_FOUND);
	if (r->request || r->query)
		add_error(responses, 422, VERR_INVALID);
	if (r->flags & API_PUBLIC)
		add_error(responses, 429, VERR_RATE_LIMITED);
	/* Every other failure (413, 415, 503, ...) has the same shape. */
	json_object_set_new(responses, "default",
	                    json_pack("{s:s,s:{s:{s:o}}}", "description",
	                              "Any other failure, with its status", "content",
	                              "application/json", "schema", ref("schemas", "Error")));
	return op;
}

static json_t *build(void)
{
	json_error_t jerr;
	json_t *schemas = json_loads(SCHEMAS, 0, &jerr);
	if (!schemas) { /* ours, and a unit test parses it: a broken build */
		fprintf(stderr, "openapi.c: SCHEMAS: %s at %d:%d\n", jerr.text, jerr.line,
		        jerr.column);
		abort();
	}
	json_t *paths = json_object();
	json_t *tags = json_array(); /* each group once, in the table's order */
	for (const struct api_route *r = api_routes; r->method; r++) {
		json_t *t = tag(r), *one = json_pack("{s:O}", "name", t);
		for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
			if (strcmp(groups[i][0], json_string_value(t)) == 0)
				json_object_set_new(one, "description", json_string(groups[i][1]));
		size_t i;
		json_t *seen;
		bool known = false;
		json_array_foreach(tags, i, seen) known |= json_equal(seen, one);
		if (known)
			json_decref(one);
		else
			json_array_append_new(tags, one);
		json_decref(t);
		json_t *path = child(paths, r->pattern);
		char method[8];
		snprintf(method, sizeof(method), "%s", r->method);
		for (char *m = method; *m; m++)
			*m = (char)(*m - 'A' + 'a');
		json_object_set_new(path, method, operation(r, schemas));
	}
	/* Query schemas were spread into parameters: they are no shapes of their own. */
	for (const struct api_route *r = api_routes; r->method; r++)
		if (r->query)
			json_object_del(schemas, r->query);
	return json_pack(
	    "{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:o,s:{s:o,s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}}"
	    "}",
	    "openapi", "3.1.0", "info", "title", "vault", "version", VAULT_VERSION, "description",
	    "A self-hosted personal knowledge vault: notes with tags, semantic and keyword "
	    "search, answers from your own notes. Every error is {\"detail\": \"...\"}.",
	    "servers", "url", "/", "tags", tags, "paths", paths, "components", "schemas", schemas,
	    "securitySchemes", "bearer", "type", "http", "scheme", "bearer", "description",
	    "The access_token of POST /api/v1/auth/login, or a personal access token "
	    "(vault_pat_..., POST /api/v1/tokens): a read token may not write, and no token "
	    "manages tokens or the account (403)",
	    "metricsToken", "type", "http", "scheme", "bearer", "description", "METRICS_TOKEN");
}

static json_t *doc;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build_once(void)
{
	doc = build();
}

json_t *api_openapi(void)
{
	pthread_once(&once, build_once);
	return json_incref(doc);
}
