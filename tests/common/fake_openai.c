/*
 * fake_openai.c - the fake OpenAI-compatible server of the tests (see
 * fake_openai.h).
 *
 * libmicrohttpd runs it on an internal polling thread with a thread per
 * connection, so a handler may sleep (FAKE_SLOW) or stream slowly without
 * holding up other requests. Sleeps wake every few milliseconds to see
 * whether the server is stopping, so fake_openai_stop() never waits out a
 * delay. One mutex guards every knob and counter.
 */
#include "common/fake_openai.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_MAX    (64 * 1024 * 1024)
#define MAX_BATCHES 4096

struct ep_state {
	enum fake_mode mode;
	int remaining; /* requests the mode still applies to; FAKE_ALWAYS: all */
	int requests;
	char *last_body;
};

struct fake_openai {
	struct MHD_Daemon *daemon;
	int port;
	char url[64];
	atomic_bool stopping;

	pthread_mutex_t mu;
	struct ep_state ep[2]; /* FAKE_EP_EMBEDDINGS, FAKE_EP_CHAT */
	int requests_any;
	int delay_ms, retry_after, dim, chunk_delay_ms, scale_exp;
	char *answer;
	int batches[MAX_BATCHES];
	int n_batches;
	char *last_auth;
	int auth_count;
	char *last_messages;
};

/* The body of a request as it arrives. */
struct upload {
	char *buf;
	size_t len;
	bool too_big;
};

/* ------------------------------------------------------------------ */
/* Helpers. */

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		abort();
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *dup0(const char *s)
{
	return s ? dupn(s, strlen(s)) : NULL;
}

/* Sleeps ms, waking early when the server stops. */
static void nap(struct fake_openai *f, int ms)
{
	struct timespec step = {0, 2 * 1000 * 1000};
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(&f->stopping)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el = (double)(now.tv_sec - t0.tv_sec) * 1000 +
		            (double)(now.tv_nsec - t0.tv_nsec) / 1e6;
		if (el >= ms)
			break;
		nanosleep(&step, NULL);
	}
}

static uint64_t fnv1a(const unsigned char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void add_seeded(uint64_t seed, int dim, float *out)
{
	for (int k = 0; k < dim; k++) {
		uint64_t r = splitmix(seed + (uint64_t)k * 0x632be59bd9b4e019ULL);
		out[k] += (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
	}
}

void fake_openai_vector(const char *text, int dim, float *out)
{
	memset(out, 0, sizeof(float) * (size_t)dim);
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text);
	unsigned char word[256];
	size_t wl = 0;
	bool any = false;
	for (size_t i = 0; i <= n; i++) {
		bool wc = i < n && (isalnum(s[i]) || s[i] >= 0x80);
		if (wc) {
			if (wl < sizeof(word))
				word[wl++] = (unsigned char)tolower(s[i]);
			continue;
		}
		if (wl > 0) {
			add_seeded(fnv1a(word, wl), dim, out);
			any = true;
			wl = 0;
		}
	}
	if (!any)
		add_seeded(fnv1a(s, n), dim, out);
}

/* Takes the mode for a request to ep and counts the request. */
static enum fake_mode take_mode(struct fake_openai *f, enum fake_endpoint ep)
{
	pthread_mutex_lock(&f->mu);
	struct ep_state *st = &f->ep[ep];
	enum fake_mode m = FAKE_OK;
	if (st->mode != FAKE_OK) {
		m = st->mode;
		if (st->remaining > 0 && --st->remaining == 0)
			st->mode = FAKE_OK;
	}
	pthread_mutex_unlock(&f->mu);
	return m;
}

/* ------------------------------------------------------------------ */
/* Responses. */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
                             const char *body, size_t len, int retry_after)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", ctype);
	if (retry_after >= 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", retry_after);
		MHD_add_response_header(r, "Retry-After", v);
	}
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status,
                                   const char *message, int retry_after)
{
	json_t *j = json_pack("{s:{s:s, s:s}}", "error", "message", message, "type", "fake_error");
	char *s = json_dumps(j, JSON_COMPACT);
	enum MHD_Result ret = reply(conn, status, "application/json", s, strlen(s), retry_after);
	free(s);
	json_decref(j);
	return ret;
}

/*
 * A body sent in segments by a reader callback: after segment stall_at the
 * reader waits stall_ms (FAKE_STALL), and between segments pause_ms.
 */
struct segments {
	struct fake_openai *f;
	char **seg;
	size_t *len;
	size_t n, cap, cur, off;
	size_t stall_at; /* (size_t)-1: never */
	int stall_ms, pause_ms;
	bool started;
};

static void seg_add(struct segments *s, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->seg = realloc(s->seg, s->cap * sizeof(char *));
		s->len = realloc(s->len, s->cap * sizeof(size_t));
		if (!s->seg || !s->len)
			abort();
	}
	s->seg[s->n] = dupn(p, n);
	s->len[s->n] = n;
	s->n++;
}

static void seg_free(void *cls)
{
	struct segments *s = cls;
	for (size_t i = 0; i < s->n; i++)
		free(s->seg[i]);
	free(s->seg);
	free(s->len);
	free(s);
}

static ssize_t seg_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct segments *s = cls;
	if (atomic_load(&s->f->stopping))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (s->cur >= s->n)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (s->off == 0) {
		if (s->started && s->cur == s->stall_at)
			nap(s->f, s->stall_ms);
		else if (s->started && s->pause_ms > 0)
			nap(s->f, s->pause_ms);
		s->started = true;
		if (atomic_load(&s->f->stopping))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = s->len[s->cur] - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->seg[s->cur] + s->off, n);
	s->off += n;
	if (s->off == s->len[s->cur]) {
		s->cur++;
		s->off = 0;
	}
	return (ssize_t)n;
}

static enum MHD_Result reply_segments(struct MHD_Connection *conn, const char *ctype,
                                      struct segments *s, uint64_t total)
{
	struct MHD_Response *r =
	    MHD_create_response_from_callback(total, 4096, seg_read, s, seg_free);
	MHD_add_response_header(r, "Content-Type", ctype);
	if (strcmp(ctype, "text/event-stream") == 0)
		MHD_add_response_header(r, "Cache-Control", "no-cache");
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static struct segments *segments_new(struct fake_openai *f)
{
	struct segments *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->f = f;
	s->stall_at = (size_t)-1;
	return s;
}

/* A whole JSON body: sent at once, or in two halves around a stall. */
static enum MHD_Result reply_json(struct fake_openai *f, struct MHD_Connection *conn,
                                  enum fake_mode mode, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(7));
	size_t n = strlen(s);
	enum MHD_Result ret;
	if (mode == FAKE_INVALID_JSON) {
		ret = reply(conn, MHD_HTTP_OK, "application/json", "this is not json", 16, -1);
	} else if (mode == FAKE_TRUNCATED) {
		ret = reply(conn, MHD_HTTP_OK, "application/json", s, n / 2, -1);
	} else if (mode == FAKE_STALL) {
		struct segments *sg = segments_new(f);
		seg_add(sg, s, n / 2);
		seg_add(sg, s + n / 2, n - n / 2);
		pthread_mutex_lock(&f->mu);
		sg->stall_ms = f->delay_ms;
		pthread_mutex_unlock(&f->mu);
		sg->stall_at = 1;
		ret = reply_segments(conn, "application/json", sg, n);
	} else {
		ret = reply(conn, MHD_HTTP_OK, "application/json", s, n, -1);
	}
	free(s);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Endpoints. */

static enum MHD_Result embeddings(struct fake_openai *f, struct MHD_Connection *conn,
                                  enum fake_mode mode, json_t *req)
{
	json_t *input = json_object_get(req, "input");
	json_t *texts = json_is_string(input) ? json_pack("[O]", input) : json_incref(input);
	if (!json_is_array(texts)) {
		json_decref(texts);
		return reply_error(conn, 400, "input must be a string or an array of strings", -1);
	}
	size_t n = json_array_size(texts);
	pthread_mutex_lock(&f->mu);
	if (f->n_batches < MAX_BATCHES)
		f->batches[f->n_batches++] = (int)n;
	int dim = f->dim;
	double scale = pow(10, f->scale_exp);
	pthread_mutex_unlock(&f->mu);
	json_t *jd = json_object_get(req, "dimensions");
	if (dim <= 0)
		dim = json_is_integer(jd) ? (int)json_integer_value(jd) : FAKE_DEFAULT_DIM;
	if (dim <= 0 || dim > 65536) {
		json_decref(texts);
		return reply_error(conn, 400, "bad dimensions", -1);
	}
	if (mode == FAKE_WRONG_DIM)
		dim = dim >= 2 ? dim / 2 : dim + 1;

	json_t *data = json_array();
	float *v = malloc(sizeof(float) * (size_t)dim);
	if (!v)
		abort();
	/* Reverse order, so a client that ignores index gets it wrong. */
	for (size_t i = n; i-- > 0;) {
		json_t *t = json_array_get(texts, i);
		if (!json_is_string(t)) {
			free(v);
			json_decref(data);
			json_decref(texts);
			return reply_error(conn, 400, "input must hold strings", -1);
		}
		fake_openai_vector(json_string_value(t), dim, v);
		json_t *emb = json_array();
		for (int k = 0; k < dim; k++)
			json_array_append_new(emb, json_real(v[k] * scale));
		json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding",
		                                      "index", (json_int_t)i, "embedding", emb));
	}
	free(v);
	json_decref(texts);
	json_t *model = json_object_get(req, "model");
	json_t *resp = json_pack("{s:s, s:o, s:s, s:{s:i, s:i}}", "object", "list", "data", data,
	                         "model", json_is_string(model) ? json_string_value(model) : "fake",
	                         "usage", "prompt_tokens", (int)n, "total_tokens", (int)n);
	enum MHD_Result ret = reply_json(f, conn, mode, resp);
	json_decref(resp);
	return ret;
}

/* A chat.completion.chunk with delta (taken). */
static char *chunk_json(const char *model, json_t *delta, const char *finish)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:o, s:s?}]}", "id", "chatcmpl-fake",
	                      "object", "chat.completion.chunk", "created", 0, "model", model,
	                      "choices", "index", 0, "delta", delta, "finish_reason", finish);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/*
 * Adds one event, cut into two writes at an awkward place that varies with
 * k: inside "data:", inside the JSON, or between the two line ends. Every
 * fourth event ends its lines with CRLF.
 */
static void add_event(struct segments *sg, const char *payload, int k)
{
	bool crlf = k % 4 == 3;
	size_t plen = strlen(payload);
	char *ev = malloc(plen + 16);
	if (!ev)
		abort();
	int n = snprintf(ev, plen + 16, "data: %s%s", payload, crlf ? "\r\n\r\n" : "\n\n");
	size_t cut;
	switch (k % 3) {
	case 0:
		cut = 3; /* "dat" | "a: ..." */
		break;
	case 1:
		cut = 6 + plen / 2; /* mid-JSON */
		break;
	default:
		cut = (size_t)n - (crlf ? 3 : 1); /* between the line ends (or CR | LF) */
		break;
	}
	seg_add(sg, ev, cut);
	seg_add(sg, ev + cut, (size_t)n - cut);
	free(ev);
}

/* Length of the next piece of answer at p: short, cycling, never cutting UTF-8, "[" alone. */
static size_t piece_len(const char *p, int k)
{
	static const size_t cycle[] = {3, 1, 4, 2, 5};
	size_t want = cycle[k % 5], n = 0;
	while (p[n] && n < want) {
		if (p[n] == '[') {
			n++;
			break;
		}
		if (p[n + 1] == '[') {
			n++;
			break;
		}
		n++;
	}
	while (p[n] && ((unsigned char)p[n] & 0xC0) == 0x80)
		n++;
	return n;
}

static enum MHD_Result chat_stream(struct fake_openai *f, struct MHD_Connection *conn,
                                   enum fake_mode mode, const char *model, const char *answer)
{
	struct segments *sg = segments_new(f);
	pthread_mutex_lock(&f->mu);
	sg->pause_ms = f->chunk_delay_ms;
	sg->stall_ms = f->delay_ms;
	pthread_mutex_unlock(&f->mu);
	seg_add(sg, ": fake keep-alive\n\n", 19);

	char *s =
	    chunk_json(model, json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL);
	int k = 0;
	add_event(sg, s, k++);
	free(s);
	if (mode == FAKE_INVALID_JSON)
		add_event(sg, "{this is not json", k++);

	size_t total = strlen(answer), sent = 0;
	for (int p = 0; sent < total; p++) {
		size_t n = piece_len(answer + sent, p);
		char *piece = dupn(answer + sent, n);
		s = chunk_json(model, json_pack("{s:s}", "content", piece), NULL);
		free(piece);
		sent += n;
		if (mode == FAKE_TRUNCATED && sent > total / 2) {
			/* The stream ends mid-event: half a JSON line, no [DONE]. */
			seg_add(sg, "data: ", 6);
			seg_add(sg, s, strlen(s) / 2);
			free(s);
			return reply_segments(conn, "text/event-stream", sg, MHD_SIZE_UNKNOWN);
		}
		add_event(sg, s, k++);
		free(s);
		if (mode == FAKE_STALL && sg->stall_at == (size_t)-1 && sent > total / 2)
			sg->stall_at = sg->n;
	}
	s = chunk_json(model, json_object(), "stop");
	add_event(sg, s, k++);
	free(s);
	add_event(sg, "[DONE]", k++);
	return reply_segments(conn, "text/event-stream", sg, MHD_SIZE_UNKNOWN);
}

static enum MHD_Result chat(struct fake_openai *f, struct MHD_Connection *conn, enum fake_mode mode,
                            json_t *req)
{
	json_t *messages = json_object_get(req, "messages");
	if (!json_is_array(messages) || json_array_size(messages) == 0)
		return reply_error(conn, 400, "messages must be a non-empty array", -1);
	char *msgs = json_dumps(messages, JSON_COMPACT);
	pthread_mutex_lock(&f->mu);
	free(f->last_messages);
	f->last_messages = msgs;
	char *answer = dup0(f->answer);
	pthread_mutex_unlock(&f->mu);

	json_t *jm = json_object_get(req, "model");
	const char *model = json_is_string(jm) ? json_string_value(jm) : "fake";
	enum MHD_Result ret;
	if (json_is_true(json_object_get(req, "stream"))) {
		ret = chat_stream(f, conn, mode, model, answer);
	} else {
		json_t *resp = json_pack(
		    "{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:{s:i, s:i, s:i}}", "id",
		    "chatcmpl-fake", "object", "chat.completion", "created", 0, "model", model,
		    "choices", "index", 0, "message", "role", "assistant", "content", answer,
		    "finish_reason", "stop", "usage", "prompt_tokens", 10, "completion_tokens", 10,
		    "total_tokens", 20);
		ret = reply_json(f, conn, mode, resp);
		json_decref(resp);
	}
	free(answer);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Dispatch. */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct fake_openai *f = cls;
	struct upload *up = *con_cls;
	if (!up) {
		up = calloc(1, sizeof(*up));
		if (!up)
			abort();
		*con_cls = up;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (up->len + *upload_data_size > BODY_MAX) {
			up->too_big = true;
		} else {
			up->buf = realloc(up->buf, up->len + *upload_data_size + 1);
			if (!up->buf)
				abort();
			memcpy(up->buf + up->len, upload_data, *upload_data_size);
			up->len += *upload_data_size;
			up->buf[up->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	int ep = ends_with(url, "/embeddings")         ? FAKE_EP_EMBEDDINGS
	         : ends_with(url, "/chat/completions") ? FAKE_EP_CHAT
	                                               : -1;
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	pthread_mutex_lock(&f->mu);
	f->requests_any++;
	free(f->last_auth);
	f->last_auth = dup0(auth);
	if (auth)
		f->auth_count++;
	if (ep >= 0) {
		f->ep[ep].requests++;
		free(f->ep[ep].last_body);
		f->ep[ep].last_body = up->buf ? dupn(up->buf, up->len) : dup0("");
	}
	int delay = f->delay_ms, retry_after = f->retry_after;
	pthread_mutex_unlock(&f->mu);

	if (ep < 0)
		return reply_error(conn, 404, "no such endpoint", -1);
	if (strcmp(method, "POST") != 0)
		return reply_error(conn, 405, "POST only", -1);
	enum fake_mode mode = take_mode(f, (enum fake_endpoint)ep);
	switch (mode) {
	case FAKE_SLOW:
		nap(f, delay);
		break;
	case FAKE_429:
		return reply_error(conn, 429, "rate limited", retry_after);
	case FAKE_500:
		return reply_error(conn, 500, "internal error", -1);
	case FAKE_400:
		return reply_error(conn, 400, "bad request", -1);
	case FAKE_DISCONNECT:
		return MHD_NO;
	default:
		break;
	}
	if (up->too_big)
		return reply_error(conn, 413, "body too large", -1);
	json_t *req = json_loadb(up->buf ? up->buf : "", up->len, 0, NULL);
	if (!json_is_object(req)) {
		json_decref(req);
		return reply_error(conn, 400, "body is not a JSON object", -1);
	}
	enum MHD_Result ret =
	    ep == FAKE_EP_EMBEDDINGS ? embeddings(f, conn, mode, req) : chat(f, conn, mode, req);
	json_decref(req);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	struct upload *up = *con_cls;
	if (up) {
		free(up->buf);
		free(up);
		*con_cls = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Life cycle, knobs and counters. */

const char *fake_openai_start(struct fake_openai **out)
{
	*out = NULL;
	struct fake_openai *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	atomic_init(&f->stopping, false);
	f->delay_ms = 5000;
	f->retry_after = -1;
	f->chunk_delay_ms = 1;
	f->answer = dup0(FAKE_DEFAULT_ANSWER);

	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handle,
	    f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed,
	    NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	if (!f->daemon) {
		free(f->answer);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return NULL;
	}
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
	f->port = info ? info->port : 0;
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/v1", f->port);
	*out = f;
	return f->url;
}

void fake_openai_stop(struct fake_openai *f)
{
	if (!f)
		return;
	atomic_store(&f->stopping, true);
	MHD_stop_daemon(f->daemon);
	for (int i = 0; i < 2; i++)
		free(f->ep[i].last_body);
	free(f->answer);
	free(f->last_auth);
	free(f->last_messages);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

const char *fake_openai_url(const struct fake_openai *f)
{
	return f->url;
}

int fake_openai_port(const struct fake_openai *f)
{
	return f->port;
}

void fake_openai_set_endpoint_mode(struct fake_openai *f, enum fake_endpoint ep,
                                   enum fake_mode mode, int count)
{
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < 2; i++)
		if (ep == FAKE_EP_ANY || (int)ep == i) {
			f->ep[i].mode = mode;
			f->ep[i].remaining = count > 0 ? count : FAKE_ALWAYS;
		}
	pthread_mutex_unlock(&f->mu);
}

void fake_openai_set_mode(struct fake_openai *f, enum fake_mode mode, int count)
{
	fake_openai_set_endpoint_mode(f, FAKE_EP_ANY, mode, count);
}

#define SETTER(name, field)                                                                        \
	void fake_openai_set_##name(struct fake_openai *f, int v)                                  \
	{                                                                                          \
		pthread_mutex_lock(&f->mu);                                                        \
		f->field = v;                                                                      \
		pthread_mutex_unlock(&f->mu);                                                      \
	}
SETTER(delay_ms, delay_ms)
SETTER(retry_after, retry_after)
SETTER(dim, dim)
SETTER(chunk_delay_ms, chunk_delay_ms)
SETTER(scale_exp, scale_exp)
#undef SETTER

void fake_openai_set_answer(struct fake_openai *f, const char *answer)
{
	char *a = dup0(answer ? answer : FAKE_DEFAULT_ANSWER);
	pthread_mutex_lock(&f->mu);
	free(f->answer);
	f->answer = a;
	pthread_mutex_unlock(&f->mu);
}

int fake_openai_requests(struct fake_openai *f, enum fake_endpoint ep)
{
	pthread_mutex_lock(&f->mu);
	int n = ep == FAKE_EP_ANY ? f->requests_any : f->ep[ep].requests;
	pthread_mutex_unlock(&f->mu);
	return n;
}

int fake_openai_batch_size(struct fake_openai *f, int i)
{
	pthread_mutex_lock(&f->mu);
	int n = i >= 0 && i < f->n_batches ? f->batches[i] : -1;
	pthread_mutex_unlock(&f->mu);
	return n;
}

char *fake_openai_last_body(struct fake_openai *f, enum fake_endpoint ep)
{
	if (ep == FAKE_EP_ANY)
		return NULL;
	pthread_mutex_lock(&f->mu);
	char *s = dup0(f->ep[ep].last_body);
	pthread_mutex_unlock(&f->mu);
	return s;
}

char *fake_openai_last_messages(struct fake_openai *f)
{
	pthread_mutex_lock(&f->mu);
	char *s = dup0(f->last_messages);
	pthread_mutex_unlock(&f->mu);
	return s;
}

char *fake_openai_last_auth(struct fake_openai *f)
{
	pthread_mutex_lock(&f->mu);
	char *s = dup0(f->last_auth);
	pthread_mutex_unlock(&f->mu);
	return s;
}

int fake_openai_auth_count(struct fake_openai *f)
{
	pthread_mutex_lock(&f->mu);
	int n = f->auth_count;
	pthread_mutex_unlock(&f->mu);
	return n;
}

void fake_openai_reset_counters(struct fake_openai *f)
{
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < 2; i++) {
		f->ep[i].requests = 0;
		free(f->ep[i].last_body);
		f->ep[i].last_body = NULL;
	}
	f->requests_any = 0;
	f->n_batches = 0;
	free(f->last_auth);
	f->last_auth = NULL;
	f->auth_count = 0;
	free(f->last_messages);
	f->last_messages = NULL;
	pthread_mutex_unlock(&f->mu);
}
