/*
 * openai.c - the shared HTTP client of the OpenAI-compatible providers (see
 * openai.h): libcurl requests, retries, the circuit breaker, and the
 * Server-Sent Events parser for streamed answers.
 *
 * Each thread keeps one curl easy handle and resets it between requests, so
 * the embedding worker reuses its keep-alive connection to the provider
 * without handles ever being shared between threads (a callback that calls
 * back in gets a fresh handle). A request is one or more attempts: 429, 5xx,
 * connection errors and timeouts are retried after an exponential backoff
 * with full jitter (base 250 ms, cap 8 s) or after the server's Retry-After;
 * other answers are final. A plain request may take AI_TIMEOUT_SECONDS per
 * attempt; a stream may go that long without a byte (checked from the
 * progress callback) and ten times that in all. The breaker counts requests
 * (not attempts) that failed for want of a healthy service: down, slow,
 * overloaded or answering garbage; a 4xx about our own request shows the
 * service is up and resets it.
 */
#include "providers/openai.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

#define BACKOFF_BASE_MS     250.0
#define BACKOFF_CAP_FACTOR  32 /* cap = 32 * base: 8 s by default */
#define COOLDOWN_MS         30000.0
#define CONNECT_TIMEOUT_MAX 10 /* seconds; never longer than AI_TIMEOUT_SECONDS */
#define STREAM_CAP_FACTOR   10 /* a stream may last 10 * AI_TIMEOUT_SECONDS */
#define SSE_MAX_LINE        (1024 * 1024)
#define REASON_MAX          160

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct openai {
	char *base; /* OPENAI_BASE_URL without a trailing slash */
	char *auth; /* "Authorization: Bearer <key>", or NULL without a key */
	int timeout_s;
	int max_retries;
	double backoff_base_ms, backoff_cap_ms, cooldown_ms;

	pthread_mutex_t mu; /* guards the breaker */
	enum breaker_state state;
	int failures;     /* consecutive failed requests */
	double opened_ms; /* when the breaker last opened */
};

/* ------------------------------------------------------------------ */
/* libcurl set-up: global init once, one easy handle per thread. */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;
static CURLcode curl_init_rc;

static void handle_destroy(void *h)
{
	curl_easy_cleanup(h);
}

static void curl_setup(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pthread_key_create(&handle_key, handle_destroy) != 0)
		curl_init_rc = CURLE_FAILED_INIT;
}

/* Whether this thread's handle is in a transfer (a callback calling us again). */
static _Thread_local bool handle_busy;

/*
 * This thread's easy handle, reset to defaults; or, when it is busy, a new
 * one (*own: the caller cleans it up). NULL if curl cannot start.
 */
static CURL *handle_acquire(bool *own)
{
	*own = false;
	pthread_once(&curl_once, curl_setup);
	if (curl_init_rc != CURLE_OK)
		return NULL;
	if (handle_busy) {
		*own = true;
		return curl_easy_init();
	}
	CURL *h = pthread_getspecific(handle_key);
	handle_busy = true;
	if (h) {
		curl_easy_reset(h);
		return h;
	}
	h = curl_easy_init();
	if (h && pthread_setspecific(handle_key, h) != 0) {
		curl_easy_cleanup(h);
		h = NULL;
	}
	handle_busy = h != NULL;
	return h;
}

static void handle_release(CURL *h, bool own)
{
	if (own)
		curl_easy_cleanup(h);
	else
		handle_busy = false;
}

/* ------------------------------------------------------------------ */
/* Construction. */

/* A positive integer from the environment, or def when unset or malformed. */
static double env_ms(const char *name, double def)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 3600000)
		return def;
	return (double)v;
}

enum verr openai_new(const struct config *cfg, struct openai **out, struct verror *err)
{
	*out = NULL;
	const char *url = cfg->openai_base_url ? cfg->openai_base_url : "";
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return verr_set(err, VERR_INVALID,
		                "OPENAI_BASE_URL: must start with http:// or https://");
	/* A CR or LF in the key would let it write other headers. */
	for (const char *k = cfg->openai_api_key; k && *k; k++)
		if ((unsigned char)*k < 0x20 || *k == 0x7f)
			return verr_set(err, VERR_INVALID,
			                "OPENAI_API_KEY: must not contain control characters");
	struct openai *c = xcalloc(1, sizeof(*c));
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	c->base = xstrndup(url, n);
	if (cfg->openai_api_key && cfg->openai_api_key[0])
		c->auth = xasprintf("Authorization: Bearer %s", cfg->openai_api_key);
	c->timeout_s = cfg->ai_timeout_seconds > 0 ? cfg->ai_timeout_seconds : 30;
	c->max_retries = cfg->ai_max_retries >= 0 ? cfg->ai_max_retries : 0;
	c->backoff_base_ms = env_ms("VAULT_TEST_AI_BACKOFF_MS", BACKOFF_BASE_MS);
	c->backoff_cap_ms = c->backoff_base_ms * BACKOFF_CAP_FACTOR;
	c->cooldown_ms = env_ms("VAULT_TEST_AI_COOLDOWN_MS", COOLDOWN_MS);
	pthread_mutex_init(&c->mu, NULL);
	c->state = BREAKER_CLOSED;
	*out = c;
	return VERR_OK;
}

void openai_free(struct openai *c)
{
	if (!c)
		return;
	if (c->auth) {
		/* The key should not outlive its use in freed heap memory. */
		volatile char *p = c->auth;
		while (*p)
			*p++ = 0;
		free(c->auth);
	}
	free(c->base);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ------------------------------------------------------------------ */
/* Circuit breaker. */

/*
 * Whether a request may go out now. In the open state, once the cool-down
 * has passed, exactly one caller is let through as the half-open trial
 * (*trial); everyone else fails fast until it reports.
 */
static bool breaker_admit(struct openai *c, bool *trial, int *failures)
{
	bool ok = true;
	*trial = false;
	pthread_mutex_lock(&c->mu);
	if (c->state == BREAKER_OPEN && time_mono_ms() - c->opened_ms >= c->cooldown_ms) {
		c->state = BREAKER_HALF_OPEN;
		*trial = true;
	} else if (c->state != BREAKER_CLOSED) {
		ok = false;
	}
	*failures = c->failures;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* What a request's end means for the breaker. */
enum outcome {
	OUT_HEALTHY, /* the service answered sensibly (2xx, or a 4xx about our request) */
	OUT_FAILED,  /* down, slow, overloaded or answering garbage */
	OUT_NEUTRAL, /* says nothing about the service (we cancelled) */
};

static void breaker_report(struct openai *c, bool trial, enum outcome o)
{
	bool opened = false, closed = false;
	int failures;
	pthread_mutex_lock(&c->mu);
	if (o == OUT_HEALTHY) {
		closed = c->state != BREAKER_CLOSED;
		c->state = BREAKER_CLOSED;
		c->failures = 0;
	} else if (o == OUT_FAILED) {
		c->failures++;
		if (trial ||
		    (c->state == BREAKER_CLOSED && c->failures >= OPENAI_BREAKER_THRESHOLD)) {
			opened = c->state == BREAKER_CLOSED;
			c->state = BREAKER_OPEN;
			c->opened_ms = time_mono_ms();
		}
	} else if (trial) {
		/* No verdict: let the next caller try at once. */
		c->state = BREAKER_OPEN;
		c->opened_ms = time_mono_ms() - c->cooldown_ms;
	}
	failures = c->failures;
	pthread_mutex_unlock(&c->mu);
	if (opened)
		log_emit(LOG_WARNING, "ai_circuit_open",
		         json_pack("{s:i, s:i}", "failures", failures, "cooldown_ms",
		                   (int)c->cooldown_ms));
	else if (closed)
		log_emit(LOG_INFO, "ai_circuit_closed", NULL);
}

/* ------------------------------------------------------------------ */
/* Server-Sent Events. */

void sse_init(struct sse_parser *p, size_t max_len)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, max_len);
	buf_init(&p->data, max_len);
}

void sse_cleanup(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	memset(p, 0, sizeof(*p));
}

/* Dispatches the event built so far, if it has data. */
static int sse_dispatch(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	if (!p->has_data)
		return 0;
	p->has_data = false;
	int rc = fn(ctx, p->data.p, p->data.len);
	buf_reset(&p->data);
	return rc;
}

/* Interprets the complete line in p->line. */
static int sse_line(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	size_t len = p->line.len;
	if (len == 0)
		return sse_dispatch(p, fn, ctx);
	const char *line = p->line.p;
	if (line[0] == ':')
		return 0; /* comment, e.g. a keep-alive */
	const char *colon = memchr(line, ':', len);
	size_t flen = colon ? (size_t)(colon - line) : len;
	if (flen != 4 || memcmp(line, "data", 4) != 0)
		return 0; /* event, id, retry: nothing we use */
	const char *v = colon ? colon + 1 : line + len;
	if (v < line + len && *v == ' ')
		v++;
	size_t vlen = (size_t)(line + len - v);
	if ((p->has_data && buf_add(&p->data, "\n", 1)) || buf_add(&p->data, v, vlen))
		return -1;
	p->has_data = true;
	return 0;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn fn, void *ctx)
{
	size_t i = 0;
	while (i < len) {
		if (p->skip_lf) {
			p->skip_lf = false;
			if (buf[i] == '\n') {
				i++;
				continue;
			}
		}
		size_t j = i;
		while (j < len && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (buf_add(&p->line, buf + i, j - i))
			return -1;
		if (j == len)
			break;
		p->skip_lf = buf[j] == '\r';
		i = j + 1;
		int rc = sse_line(p, fn, ctx);
		buf_reset(&p->line);
		if (rc)
			return rc;
	}
	return 0;
}

int sse_finish(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	if (p->line.len > 0) {
		int rc = sse_line(p, fn, ctx);
		buf_reset(&p->line);
		if (rc)
			return rc;
	}
	return sse_dispatch(p, fn, ctx);
}

/* ------------------------------------------------------------------ */
/* One attempt. */

struct attempt {
	CURL *h;
	bool stream;
	int timeout_s; /* of this request: AI_TIMEOUT_SECONDS, or the caller's for one attempt */
	openai_event_fn on_event;
	void *ctx;

	long status;
	long retry_after; /* seconds, -1 if none */
	struct buf body;  /* a 2xx body (not streamed), capped at the caller's max_bytes */
	struct sse_parser sse;
	struct verror consumer; /* the reason an event was bad */
	double last_data_ms;    /* when the last byte arrived (or the request started) */
	double last_probe_ms;   /* when on_event was last asked whether the answer is wanted */
	double idle_limit_ms;   /* streams: fail when nothing arrives for this long */
	bool done;              /* "data: [DONE]" */
	bool finished, delivered, cancelled, bad, too_big, idle;
};

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	struct attempt *a = ud;
	size_t len = size * n;
	a->last_data_ms = time_mono_ms();
	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		a->retry_after = -1; /* a new response (after 100 Continue) */
	} else if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
		size_t i = 12;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		long v = 0;
		size_t digits = 0;
		while (i < len && buf[i] >= '0' && buf[i] <= '9' && digits < 9) {
			v = v * 10 + (buf[i++] - '0');
			digits++;
		}
		while (i < len &&
		       (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
			i++;
		/* Seconds only; an HTTP-date is ignored in favour of our backoff. */
		if (digits > 0 && i == len)
			a->retry_after = v;
	}
	return len;
}

/* One SSE event reached the client: [DONE], or the consumer's business. */
static int on_sse_event(void *ud, const char *data, size_t len)
{
	struct attempt *a = ud;
	if (a->done)
		return 1;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		a->done = true;
		return 1;
	}
	int rc = a->on_event(a->ctx, data, len, &a->consumer);
	if (rc & OPENAI_EV_DELIVERED)
		a->delivered = true;
	if (rc & OPENAI_EV_FINISH)
		a->finished = true;
	if (rc & OPENAI_EV_CANCEL) {
		a->cancelled = true;
		return 1;
	}
	if (rc & OPENAI_EV_BAD) {
		a->bad = true;
		return 1;
	}
	return 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	struct attempt *a = ud;
	size_t len = size * n;
	a->last_data_ms = time_mono_ms();
	if (a->status == 0)
		curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &a->status);
	bool ok = a->status >= 200 && a->status < 300;
	if (!ok) {
		/* Read and drop: an error body is never shown (it may echo the key). */
		return len;
	}
	if (a->stream) {
		int rc = sse_feed(&a->sse, buf, len, on_sse_event, a);
		if (rc < 0) {
			a->too_big = true;
			return 0;
		}
		return rc ? 0 : len; /* 0 stops the transfer: done, cancelled or bad */
	}
	if (buf_add(&a->body, buf, len)) {
		a->too_big = true;
		return 0;
	}
	return len;
}

/*
 * Called about once a second even while nothing moves: a stream that has been
 * silent for the idle limit is stopped. (CURLOPT_LOW_SPEED_TIME would do it
 * seconds late, since curl averages the speed over a window of several.)
 */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	struct attempt *a = ud;
	double now = time_mono_ms();
	if (a->idle_limit_ms > 0 && now - a->last_data_ms >= a->idle_limit_ms) {
		a->idle = true;
		return 1;
	}
	/* A silent provider must not keep a stream nobody waits for (shutdown waits on it). */
	if (a->on_event && now - a->last_probe_ms >= OPENAI_PROBE_MS) {
		a->last_probe_ms = now;
		if (a->on_event(a->ctx, NULL, 0, &a->consumer) & OPENAI_EV_CANCEL) {
			a->cancelled = true;
			return 1;
		}
	}
	return 0;
}

/* How an attempt ended. */
struct result {
	bool ok;
	bool retryable;
	enum outcome outcome;
	long status; /* HTTP status, 0 if none */
	char reason[REASON_MAX];
};

static void fail(struct result *r, bool retryable, enum outcome o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct result *r, bool retryable, enum outcome o, const char *fmt, ...)
{
	r->ok = false;
	r->retryable = retryable;
	r->outcome = o;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static long connect_timeout(int timeout_s)
{
	return timeout_s < CONNECT_TIMEOUT_MAX ? timeout_s : CONNECT_TIMEOUT_MAX;
}

/* A short reason for a CURLcode, and whether trying again may help. */
static void classify_curl(const struct attempt *a, CURLcode rc, bool connected, struct result *r)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		if (!connected)
			fail(r, true, OUT_FAILED, "cannot connect within %ld s",
			     connect_timeout(a->timeout_s));
		else
			fail(r, true, OUT_FAILED, "timed out after %d s",
			     a->stream ? a->timeout_s * STREAM_CAP_FACTOR : a->timeout_s);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		fail(r, true, OUT_FAILED, "cannot resolve host");
		break;
	case CURLE_COULDNT_CONNECT:
		fail(r, true, OUT_FAILED, "cannot connect");
		break;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		fail(r, true, OUT_FAILED, "connection failed (%s)", curl_easy_strerror(rc));
		break;
	default:
		/* Certificates, protocols, options: trying again will not help. */
		fail(r, false, OUT_FAILED, "connection failed (%s)", curl_easy_strerror(rc));
		break;
	}
}

/* A short reason for a non-2xx status, with a hint where one helps. */
static void classify_status(long status, struct result *r)
{
	r->status = status;
	if (status == 429) {
		fail(r, true, OUT_FAILED, "rate limited (HTTP 429)");
	} else if (status >= 500) {
		fail(r, true, OUT_FAILED, "HTTP %ld", status);
	} else if (status == 401 || status == 403) {
		fail(r, false, OUT_HEALTHY, "HTTP %ld (check OPENAI_API_KEY)", status);
	} else if (status == 404) {
		fail(r, false, OUT_HEALTHY, "HTTP 404 (check OPENAI_BASE_URL and the model name)");
	} else if (status >= 400) {
		fail(r, false, OUT_HEALTHY, "HTTP %ld", status);
	} else {
		fail(r, false, OUT_FAILED, "unexpected HTTP %ld", status);
	}
}

/*
 * Sends one request and classifies its end. On success of a plain request
 * *json is the parsed object (caller decrefs).
 */
static void attempt_once(struct openai *c, const char *url, const char *payload, struct attempt *a,
                         json_t **json, struct result *r)
{
	memset(r, 0, sizeof(*r));
	bool own;
	CURL *h = handle_acquire(&own);
	if (!h) {
		fail(r, false, OUT_NEUTRAL, "cannot start the HTTP client");
		return;
	}
	a->h = h;
	a->status = 0;
	a->retry_after = -1;
	buf_reset(&a->body);
	a->done = a->finished = a->cancelled = a->bad = a->too_big = a->idle = false;
	verr_clear(&a->consumer);
	if (a->stream)
		sse_init(&a->sse, SSE_MAX_LINE);

	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, a->stream ? "Accept: text/event-stream"
	                                         : "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (c->auth)
		hdrs = curl_slist_append(hdrs, c->auth);

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 0L); /* it would print the Authorization header */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
	curl_easy_setopt(h, CURLOPT_USERAGENT, "vault");
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect_timeout(a->timeout_s));
	if (a->stream) {
		/* Idle, not total: fail when no byte came for timeout_s, within a hard cap. */
		a->idle_limit_ms = (double)a->timeout_s * 1000;
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, a);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)a->timeout_s * STREAM_CAP_FACTOR);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)a->timeout_s);
	}
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);

	double t0 = time_mono_ms();
	a->last_data_ms = a->last_probe_ms = t0;
	CURLcode rc = curl_easy_perform(h);
	if (a->status == 0)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
	curl_off_t connect_us = 0;
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
	/* Drop our pointers from the handle before they go out of scope. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(hdrs);
	handle_release(h, own);
	a->h = NULL;
	r->status = a->status;

	if (a->cancelled) {
		fail(r, false, OUT_NEUTRAL, "cancelled");
	} else if (a->bad) {
		fail(r, false, OUT_FAILED, "%s", verr_detail(&a->consumer));
	} else if (a->too_big) {
		fail(r, false, OUT_FAILED, "answer from provider too large");
	} else if (a->idle) {
		fail(r, true, OUT_FAILED, "no data for %d s", a->timeout_s);
	} else if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && a->done)) {
		classify_curl(a, rc, connect_us > 0, r);
		r->status = a->status;
	} else if (a->status < 200 || a->status >= 300) {
		classify_status(a->status, r);
	} else if (a->stream) {
		if (!a->done) {
			int frc = sse_finish(&a->sse, on_sse_event, a);
			if (a->bad)
				fail(r, false, OUT_FAILED, "%s", verr_detail(&a->consumer));
			else if (a->cancelled)
				fail(r, false, OUT_NEUTRAL, "cancelled");
			else if (frc < 0)
				fail(r, false, OUT_FAILED, "answer from provider too large");
		}
		if (!r->reason[0] && !a->done && !a->finished)
			fail(r, false, OUT_FAILED, "answer stream ended early");
		if (!r->reason[0]) {
			r->ok = true;
			r->outcome = OUT_HEALTHY;
		}
	} else {
		json_t *j = json_loadb(a->body.p ? a->body.p : "", a->body.len, 0, NULL);
		if (!json_is_object(j)) {
			json_decref(j);
			fail(r, false, OUT_FAILED, "invalid JSON from provider");
		} else {
			*json = j;
			r->ok = true;
			r->outcome = OUT_HEALTHY;
		}
	}
	if (a->stream)
		sse_cleanup(&a->sse);
}

/* ------------------------------------------------------------------ */
/* Requests: attempts, backoff, breaker. */

static void sleep_ms(double ms)
{
	if (ms <= 0)
		return;
	int64_t whole = (int64_t)ms;
	struct timespec ts = {(time_t)(whole / 1000), (long)(whole % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Full jitter: a uniform wait in [0, min(cap, base * 2^(attempt-1))]. */
static double backoff_ms(const struct openai *c, int attempt)
{
	double d = c->backoff_base_ms;
	for (int i = 1; i < attempt && d < c->backoff_cap_ms; i++)
		d *= 2;
	if (d > c->backoff_cap_ms)
		d = c->backoff_cap_ms;
	uint32_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)time_mono_ms();
	return d * ((double)r / 4294967295.0);
}

static json_t *log_fields(const char *path, const struct result *r, int attempt, double t0)
{
	return json_pack("{s:s, s:I, s:s, s:i, s:I}", "endpoint", path, "status",
	                 (json_int_t)r->status, "reason", r->reason, "attempt", attempt,
	                 "elapsed_ms", (json_int_t)(time_mono_ms() - t0));
}

/* once_timeout_s > 0: one attempt, waiting that long at most (someone is waiting for it). */
static enum verr request(struct openai *c, const char *path, json_t *body, bool stream,
                         int once_timeout_s, size_t max_bytes, openai_event_fn on_event, void *ctx,
                         json_t **out, struct verror *err)
{
	bool trial;
	int failures;
	if (!breaker_admit(c, &trial, &failures)) {
		log_emit(LOG_DEBUG, "ai_request_refused",
		         json_pack("{s:s, s:i}", "endpoint", path, "failures", failures));
		return verr_set(err, VERR_AI_UNAVAILABLE,
		                "AI service unavailable: circuit open after %d failures", failures);
	}

	char *payload = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9));
	if (!payload) {
		breaker_report(c, trial, OUT_NEUTRAL);
		return verr_set(err, VERR_INTERNAL, "cannot serialise the request to the provider");
	}
	char *url = xasprintf("%s/%s", c->base, path);
	struct attempt a = {.stream = stream,
	                    .timeout_s = once_timeout_s > 0 ? once_timeout_s : c->timeout_s,
	                    .on_event = on_event,
	                    .ctx = ctx};
	buf_init(&a.body, max_bytes);
	struct result r;
	int attempts = trial || once_timeout_s > 0 ? 1 : c->max_retries + 1, attempt;
	double t0 = time_mono_ms();
	for (attempt = 1;; attempt++) {
		attempt_once(c, url, payload, &a, out, &r);
		if (r.ok || !r.retryable || attempt >= attempts || a.delivered)
			break;
		if (a.retry_after > OPENAI_RETRY_AFTER_MAX_S) {
			/* Waiting that long helps no caller: give up and say so. */
			size_t len = strlen(r.reason);
			snprintf(r.reason + len, sizeof(r.reason) - len, ", retry after %ld s",
			         a.retry_after);
			break;
		}
		double wait =
		    a.retry_after > 0 ? (double)a.retry_after * 1000 : backoff_ms(c, attempt);
		json_t *f = log_fields(path, &r, attempt, t0);
		json_object_set_new(f, "retry_in_ms", json_integer((json_int_t)wait));
		log_emit(LOG_WARNING, "ai_request_retry", f);
		sleep_ms(wait);
	}
	free(url);
	free(payload);
	buf_free(&a.body);
	breaker_report(c, trial, r.outcome);
	if (r.ok)
		return VERR_OK;

	if (r.outcome != OUT_NEUTRAL)
		log_emit(LOG_WARNING, "ai_request_failed", log_fields(path, &r, attempt, t0));
	if (attempt > 1)
		return verr_set(err, VERR_AI_UNAVAILABLE,
		                "AI service unavailable: %s (after %d attempts)", r.reason,
		                attempt);
	return verr_set(err, VERR_AI_UNAVAILABLE, "AI service unavailable: %s", r.reason);
}

enum verr openai_post(struct openai *c, const char *path, json_t *body, size_t max_bytes,
                      json_t **out, struct verror *err)
{
	*out = NULL;
	return request(c, path, body, false, 0, max_bytes, NULL, NULL, out, err);
}

enum verr openai_post_once(struct openai *c, const char *path, json_t *body, size_t max_bytes,
                           int timeout_s, json_t **out, struct verror *err)
{
	*out = NULL;
	return request(c, path, body, false, timeout_s, max_bytes, NULL, NULL, out, err);
}

enum verr openai_stream(struct openai *c, const char *path, json_t *body, openai_event_fn on_event,
                        void *ctx, struct verror *err)
{
	json_t *unused = NULL;
	return request(c, path, body, true, 0, 0, on_event, ctx, &unused, err);
}
