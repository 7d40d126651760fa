/*
 * err.h - the one error type of vault.
 *
 * Every fallible function returns an enum verr (0 = OK) and, when given a
 * struct verror, leaves a message for people in it. Each code carries its
 * HTTP status, so the http layer maps codes to responses and no route picks
 * a status number by hand. Append codes; never renumber.
 */
#ifndef VAULT_CORE_ERR_H
#define VAULT_CORE_ERR_H

#include <stdarg.h>

#define VERR_MAP(X)                                                                                \
	X(VERR_OK, 200, "OK")                                                                      \
	X(VERR_BAD_REQUEST, 400, "Bad request")                                                    \
	X(VERR_UNAUTHORIZED, 401, "Not authenticated")                                             \
	X(VERR_FORBIDDEN, 403, "Forbidden")                                                        \
	X(VERR_NOT_FOUND, 404, "Not found")                                                        \
	X(VERR_METHOD, 405, "Method not allowed")                                                  \
	X(VERR_CONFLICT, 409, "Conflict")                                                          \
	X(VERR_TOO_LARGE, 413, "Request body too large")                                           \
	X(VERR_MEDIA_TYPE, 415, "Unsupported media type")                                          \
	X(VERR_INVALID, 422, "Validation error")                                                   \
	X(VERR_INTERNAL, 500, "Internal server error")                                             \
	X(VERR_UNAVAILABLE, 503, "Service unavailable")                                            \
	X(VERR_TIMEOUT, 504, "Timed out")                                                          \
	X(VERR_AI_UNAVAILABLE, 503, "AI service unavailable")                                      \
	X(VERR_RATE_LIMITED, 429, "Too many requests")                                             \
	X(VERR_STORAGE_FULL, 507, "Storage is full: the change was not saved")

enum verr {
#define VERR_ENUM(code, status, msg) code,
	VERR_MAP(VERR_ENUM)
#undef VERR_ENUM
};

#define VERR_DETAIL_MAX 512

/* The error slot a caller passes down: code for control flow, detail for people. */
struct verror {
	enum verr code;
	int retry_after; /* seconds worth waiting before a retry (Retry-After), 0 if none */
	char detail[VERR_DETAIL_MAX];
};

/* HTTP status of a code (500 for an unknown one). */
int verr_status(enum verr code);

/* Default message of a code. */
const char *verr_message(enum verr code);

/* Symbolic name, e.g. "VERR_NOT_FOUND". */
const char *verr_name(enum verr code);

/*
 * Records code and a printf-style detail in e (which may be NULL) and returns
 * code, so callers write `return verr_set(e, VERR_INVALID, "title: ...")`.
 * A NULL fmt leaves the code's default message.
 */
enum verr verr_set(struct verror *e, enum verr code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* verr_set() that also tells how many seconds to wait before trying again. */
enum verr verr_retry(struct verror *e, enum verr code, int seconds, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Clears e to VERR_OK with an empty detail. */
void verr_clear(struct verror *e);

/* The detail if one was set, else the code's default message. */
const char *verr_detail(const struct verror *e);

#endif
