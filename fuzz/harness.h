/*
 * harness.h - the vault server the HTTP-level fuzz targets (body.c,
 * query.c) send their requests to: the real one, in this process.
 *
 * It runs on SQLite in a temporary directory, removed at exit, with no LLM
 * (so /ask answers 503 once its input is valid). Each input gets an account
 * of its own holding one embedded note, deleted afterwards, so inputs do
 * not build on each other and the database stays small. Requests go over
 * loopback HTTP with libcurl, on one kept-alive connection.
 */
#ifndef VAULT_FUZZ_HARNESS_H
#define VAULT_FUZZ_HARNESS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct account {
	int64_t user_id;
	int64_t note_id;
	char *authorization; /* "Bearer <access token>" */
};

/* A fresh account with one note (starting the server first if need be). */
void harness_account(struct account *a);

/* The server's services, for targets that call them directly (starting it if need be). */
struct svc *harness_svc(void);

/* Deletes the account with everything it holds. */
void harness_account_end(struct account *a);

/*
 * Sends method target (path and query, as they go on the request line) with
 * body[0..len) as application/json when body is not NULL, and authorization
 * when not NULL. Returns the status; *json gets the answer's JSON (NULL for
 * none; caller decrefs). Fails the run on a 5xx other than /ask's 503 "AI
 * service unavailable" (no LLM here), an API answer that is not a JSON
 * object, or an error without "detail".
 */
long harness_request(const char *method, const char *target, const char *authorization,
                     const char *body, size_t len, json_t **json);

#endif
