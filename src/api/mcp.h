/*
 * mcp.h - the Model Context Protocol (JSON-RPC 2.0) over vault's API.
 *
 * An agent calls tools (search_notes, get_note, list_notes, create_note,
 * update_note, ask) and reads notes as resources (vault://notes/{id}). Each
 * tool runs the /api/v1 handler of the same operation for the caller, so
 * its checks, limits and error messages are the API's, word for word; an
 * error comes back as a tool result with isError, never as a crash. The
 * transports (stdio in cli/mcp.c, Streamable HTTP at /mcp) only move
 * messages and say who the caller is.
 */
#ifndef VAULT_API_MCP_H
#define VAULT_API_MCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "services/services.h"

#define MCP_MESSAGE_MAX (4 * 1024 * 1024) /* bytes of one message */

struct mcp_caller {
	int64_t user_id;
	bool can_write; /* false for a read-only token: write tools are not offered */
};

/*
 * The answer to one JSON-RPC message: a response object, or NULL for a
 * notification (no id) or a response sent to us. msg NULL stands for bytes
 * that were not JSON (a parse error, -32700).
 */
json_t *mcp_handle(struct svc *svc, const struct config *cfg, const struct mcp_caller *who,
                   json_t *msg);

/*
 * POST /mcp, the Streamable HTTP transport without sessions: one message a
 * request, its response as JSON (202 and no body for a notification). The
 * caller is the bearer token's user. GET /mcp (a stream the server would
 * open) is not offered: 405, as the protocol allows.
 */
enum verr mcp_http(struct api_req *req, struct api_resp *resp);

#endif
