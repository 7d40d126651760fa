/*
 * openai.h - the HTTP client the OpenAI-compatible providers share (private
 * to providers/: embed_openai.c and llm_openai.c).
 *
 * One struct openai per provider instance: base URL, optional API key,
 * timeouts from AI_TIMEOUT_SECONDS, retries with backoff from AI_MAX_RETRIES,
 * and a circuit breaker. It POSTs JSON and hands back parsed JSON, or, for
 * streamed answers, the Server-Sent Events' data one event at a time. Every
 * failure is VERR_AI_UNAVAILABLE "AI service unavailable: <short reason>"; this
 * is the only place that knows CURLcode and HTTP status numbers. The key is
 * sent as a header only and never appears in a log line or an error detail.
 *
 * For tests, two environment variables shorten the waits (production leaves
 * them unset): VAULT_TEST_AI_BACKOFF_MS, the backoff base (default 250 ms;
 * the cap is 32 times it), and VAULT_TEST_AI_COOLDOWN_MS, the breaker's
 * cool-down (default 30000 ms). Both are read by openai_new().
 */
#ifndef VAULT_PROVIDERS_OPENAI_H
#define VAULT_PROVIDERS_OPENAI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"

#define OPENAI_BREAKER_THRESHOLD 5   /* consecutive failed requests that open the breaker */
#define OPENAI_RETRY_AFTER_MAX_S 30  /* a longer Retry-After is not waited for: we give up */
#define OPENAI_PROBE_MS          200 /* how often a silent stream asks whether it is wanted */

struct openai;

/*
 * A client for cfg's OPENAI_BASE_URL and OPENAI_API_KEY; borrows cfg. The
 * caller frees it with openai_free(). VERR_INVALID if the base URL is not
 * http(s).
 */
enum verr openai_new(const struct config *cfg, struct openai **out, struct verror *err);

void openai_free(struct openai *c); /* accepts NULL */

/*
 * POSTs body (JSON, borrowed) to <base>/<path> ("embeddings") and sets *out
 * to the parsed response object (caller decrefs). Each attempt may take
 * AI_TIMEOUT_SECONDS; 429, 5xx, connection errors and timeouts are tried
 * again, up to AI_MAX_RETRIES times, after a backoff with full jitter or the
 * server's Retry-After (one over OPENAI_RETRY_AFTER_MAX_S ends the request).
 * Other 4xx, answers over max_bytes and answers that are not a JSON object
 * are final. After OPENAI_BREAKER_THRESHOLD requests in a row have failed,
 * requests fail at once for a cool-down, then one (single-attempt) trial
 * decides. VERR_AI_UNAVAILABLE on any failure. Callbacks may call back in.
 */
enum verr openai_post(struct openai *c, const char *path, json_t *body, size_t max_bytes,
                      json_t **out, struct verror *err);

/*
 * openai_post() for someone waiting: one attempt of at most timeout_s
 * seconds, no retry (the breaker still applies).
 */
enum verr openai_post_once(struct openai *c, const char *path, json_t *body, size_t max_bytes,
                           int timeout_s, json_t **out, struct verror *err);

/*
 * What a stream consumer returns after each event: 0 to go on, or an OR of
 * these flags.
 */
enum {
	OPENAI_EV_DELIVERED = 1, /* text reached the user: never retry from now on */
	OPENAI_EV_FINISH = 2,    /* the answer is complete (finish_reason); [DONE] may follow */
	OPENAI_EV_CANCEL = 4,    /* the user went away: stop, "cancelled" */
	OPENAI_EV_BAD = 8,       /* garbage: stop; the consumer has put the reason in err */
};

/*
 * Receives the data of one event (len bytes, NUL-terminated; "[DONE]" is
 * handled by the client and never passed on). While no event comes it is
 * called about every OPENAI_PROBE_MS with data NULL, to ask whether the
 * consumer still wants the answer: OPENAI_EV_CANCEL stops the request. With OPENAI_EV_BAD it sets
 * err's detail to a short reason ("invalid JSON from provider"), which the
 * client prefixes with "AI service unavailable: ".
 */
typedef int (*openai_event_fn)(void *ctx, const char *data, size_t len, struct verror *err);

/*
 * POSTs body to <base>/<path> and streams the Server-Sent Events of the
 * answer to on_event. Waits at most AI_TIMEOUT_SECONDS for each piece rather
 * than for the whole answer (with a hard cap of ten times that). Retries like
 * openai_post() until an event returns OPENAI_EV_DELIVERED. Succeeds once
 * "data: [DONE]" arrives, or the stream ends after OPENAI_EV_FINISH;
 * VERR_AI_UNAVAILABLE otherwise.
 */
enum verr openai_stream(struct openai *c, const char *path, json_t *body, openai_event_fn on_event,
                        void *ctx, struct verror *err);

/* ------------------------------------------------------------------ */
/* Server-Sent Events parser (exposed for the unit tests). */

/*
 * Called with the data of each complete event: the "data:" lines joined by
 * "\n", NUL-terminated. Return nonzero to stop feeding.
 */
typedef int (*sse_event_fn)(void *ctx, const char *data, size_t len);

struct sse_parser {
	struct buf line; /* the current, unterminated line; capped at max_len */
	struct buf data; /* the data of the event being built; capped at max_len */
	bool has_data;
	bool skip_lf; /* the last byte was CR: a following LF ends no new line */
};

void sse_init(struct sse_parser *p, size_t max_len);
void sse_cleanup(struct sse_parser *p);

/*
 * Feeds len bytes, split anywhere: lines end at LF, CRLF or CR; ":" starts a
 * comment; fields other than data are ignored; an empty line dispatches.
 * Returns 0, the callback's nonzero value, or -1 when a line or event passes
 * max_len.
 */
int sse_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn fn, void *ctx);

/* At the end of the stream: takes an unterminated last line and event as complete. */
int sse_finish(struct sse_parser *p, sse_event_fn fn, void *ctx);

#endif
