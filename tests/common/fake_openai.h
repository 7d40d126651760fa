/*
 * fake_openai.h - a fake OpenAI-compatible server for the tests.
 *
 * Real HTTP on 127.0.0.1 and an ephemeral port (libmicrohttpd, a thread per
 * connection), inside the test process: start it in the test itself, since
 * Criterion forks per test. Unit tests point a config's OPENAI_BASE_URL at
 * fake_openai_url(); integration tests pass it to the vault subprocess.
 *
 * POST .../embeddings answers deterministic vectors (fake_openai_vector(),
 * not normalised) of the requested "dimensions", else of the dim set with
 * fake_openai_set_dim() (default 1536), listing data[] in reverse order so
 * the client must sort by index. POST .../chat/completions answers the text
 * set with fake_openai_set_answer(), whole or, with "stream": true, as
 * Server-Sent Events split at awkward places (mid-word, "[" apart from "1]",
 * events cut across writes, a comment, CRLF line ends), then [DONE].
 *
 * Failure modes apply to the next count requests (FAKE_ALWAYS: until
 * changed), then the server answers normally again, so "fail twice, then
 * succeed" is set_mode(f, FAKE_500, 2). Every knob and counter is
 * thread-safe and may be used at any time. Functions returning char * give
 * a copy the caller frees.
 */
#ifndef VAULT_TESTS_COMMON_FAKE_OPENAI_H
#define VAULT_TESTS_COMMON_FAKE_OPENAI_H

#include <stddef.h>

#define FAKE_DEFAULT_DIM    1536
#define FAKE_DEFAULT_ANSWER "Your notes say the meeting moved to Tuesday [1], in room 4 [2]."
#define FAKE_ALWAYS         0 /* count for a mode that lasts until changed */

enum fake_mode {
	FAKE_OK,
	FAKE_SLOW,         /* waits delay_ms before answering normally */
	FAKE_STALL,        /* sends part of the answer, then waits delay_ms, then the rest */
	FAKE_429,          /* 429, with Retry-After when set_retry_after() >= 0 */
	FAKE_500,          /* 500 with an error body */
	FAKE_400,          /* 400 with an error body (not worth retrying) */
	FAKE_DISCONNECT,   /* closes the connection without an answer */
	FAKE_TRUNCATED,    /* 200, the body cut in half (stream: no [DONE], JSON cut mid-line) */
	FAKE_INVALID_JSON, /* 200 with a body that is not JSON (stream: an event that is not) */
	FAKE_WRONG_DIM,    /* embeddings of half the dimensions asked for (dim + 1 if dim < 2) */
};

enum fake_endpoint {
	FAKE_EP_EMBEDDINGS,
	FAKE_EP_CHAT,
	FAKE_EP_ANY, /* counters: every request, including unknown paths */
};

struct fake_openai;

/*
 * Starts the server; *out is freed by fake_openai_stop(). Returns its base
 * URL, "http://127.0.0.1:PORT/v1" (owned by the server), or NULL if it
 * could not start.
 */
const char *fake_openai_start(struct fake_openai **out);

/* Stops the server (waking any request it is delaying) and frees it; accepts NULL. */
void fake_openai_stop(struct fake_openai *f);

const char *fake_openai_url(const struct fake_openai *f);
int fake_openai_port(const struct fake_openai *f);

/* ---- knobs ---- */

/* Mode of both endpoints for the next count requests to each (FAKE_ALWAYS: until changed). */
void fake_openai_set_mode(struct fake_openai *f, enum fake_mode mode, int count);
/* Mode of one endpoint only. */
void fake_openai_set_endpoint_mode(struct fake_openai *f, enum fake_endpoint ep,
                                   enum fake_mode mode, int count);
/* How long FAKE_SLOW and FAKE_STALL wait (default 5000 ms). */
void fake_openai_set_delay_ms(struct fake_openai *f, int ms);
/* Retry-After seconds sent with FAKE_429; < 0 sends none (the default). */
void fake_openai_set_retry_after(struct fake_openai *f, int seconds);
/* Dimensions when a request names none (default FAKE_DEFAULT_DIM); > 0 also overrides one that
 * does. */
void fake_openai_set_dim(struct fake_openai *f, int dim);
/* Embedding components are multiplied by 10^e (default 0): huge or tiny but finite. */
void fake_openai_set_scale_exp(struct fake_openai *f, int e);
/* The chat answer (copied); NULL restores FAKE_DEFAULT_ANSWER. */
void fake_openai_set_answer(struct fake_openai *f, const char *answer);
/* Pause between the writes of a stream (default 1 ms), so they reach the client apart. */
void fake_openai_set_chunk_delay_ms(struct fake_openai *f, int ms);

/* ---- what it saw ---- */

/* Requests that reached an endpoint (answered or not). */
int fake_openai_requests(struct fake_openai *f, enum fake_endpoint ep);
/* Texts in the i-th embeddings request (from 0), or -1 if there was none. */
int fake_openai_batch_size(struct fake_openai *f, int i);
/* The raw body of the last request to ep; NULL if none. */
char *fake_openai_last_body(struct fake_openai *f, enum fake_endpoint ep);
/* The "messages" array of the last chat request, as compact JSON; NULL if none. */
char *fake_openai_last_messages(struct fake_openai *f);
/* The Authorization header of the last request; NULL if it had none. */
char *fake_openai_last_auth(struct fake_openai *f);
/* Requests that carried an Authorization header. */
int fake_openai_auth_count(struct fake_openai *f);
/* Zeroes the counters and forgets the recorded requests (knobs stay). */
void fake_openai_reset_counters(struct fake_openai *f);

/*
 * The vector the fake returns for text, before the client normalises it:
 * for each word (a run of letters and digits, ASCII lowered) a hash-seeded
 * pseudo-random vector, summed, so equal texts get equal vectors and texts
 * sharing words point in similar directions. A text without words gets the
 * vector of its whole bytes.
 */
void fake_openai_vector(const char *text, int dim, float *out);

#endif
