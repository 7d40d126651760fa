/*
 * server.h - the HTTP server: libmicrohttpd, one thread per connection.
 *
 * A thread per connection keeps slow work (a bcrypt hash) from stalling any
 * other client. The server reads and bounds the body, routes, authenticates,
 * parses JSON, calls the handler and writes JSON back with the security and
 * CORS headers, and logs one line per request.
 */
#ifndef VAULT_HTTP_SERVER_H
#define VAULT_HTTP_SERVER_H

#include "core/config.h"
#include "services/services.h"

struct http_server;

/* Binds HOST:PORT and starts serving. VERR_UNAVAILABLE if it cannot bind. */
enum verr http_server_start(const struct config *cfg, struct svc *svc, struct http_server **out,
                            struct verror *err);

/* The port actually bound (PORT=0 picks a free one). */
int http_server_port(const struct http_server *s);

/*
 * Stops accepting, lets requests in flight finish (for up to grace_ms),
 * closes every connection and frees the server.
 */
void http_server_stop(struct http_server *s, int grace_ms);

#endif
