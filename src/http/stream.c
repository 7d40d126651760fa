/*
 * stream.c - answers streamed as Server-Sent Events (text/event-stream).
 *
 * A streamed answer has two sides: a producer thread that runs the
 * handler's stream function and appends events, and MHD's content reader,
 * which blocks (allowed with a thread per connection) until bytes or the end
 * arrive. Whichever side finishes last frees the stream; a client that
 * leaves makes the next send return nonzero, so the producer stops.
 *
 * The producer writes through struct api_sse, the interface the api layer
 * defines (api/api.h), so routes never call into this layer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/server_int.h"

/*
 * Bytes of events a client may leave unread. An answer streams at the
 * model's pace, a few kB a second; a client this far behind has stopped
 * reading, and is treated as gone rather than held in memory. One event
 * more may go in past it: its size is bounded by the answer's (rag.c), and
 * the last event, the whole answer, must not be refused for its length.
 */
#define BACKLOG_MAX (4 * 1024 * 1024)

struct sse {
	struct api_sse api; /* first: the api layer's view of this stream */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct buf out; /* events; those from off on are not yet read */
	size_t off;
	bool done, gone;
	int refs;
	struct http_server *srv;
	api_stream_fn fn;
	void *ctx;
	void (*ctx_free)(void *ctx);
};

static void sse_unref(struct sse *s)
{
	pthread_mutex_lock(&s->mu);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (!last)
		return;
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	buf_free(&s->out);
	free(s);
}

/* struct api_sse's send. */
static int sse_send(struct api_sse *sse, const char *event, json_t *data)
{
	struct sse *s = (struct sse *)sse;
	/* NULL data: json_pack refused a value (text that is not UTF-8). That
	 * ends this stream with an error event, never the process. */
	char *text =
	    data ? http_not_null(json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(8))) : NULL;
	json_decref(data);
	bool bad = !text;
	if (bad) {
		log_emit(LOG_ERROR, "sse_bad_event",
		         http_not_null(json_pack("{s:o}", "event", http_str(event))));
		event = "error";
		text = xstrdup("{\"detail\":\"Internal server error\"}");
	}
	char *frame = xasprintf("event: %s\ndata: %s\n\n", event, text);
	free(text);
	size_t n = strlen(frame);
	pthread_mutex_lock(&s->mu);
	size_t unread = s->out.len - s->off;
	bool behind = !s->gone && unread > BACKLOG_MAX;
	if (behind)
		s->gone = true;
	else if (!s->gone)
		buf_add(&s->out, frame, n);
	bool gone = s->gone;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	free(frame);
	if (behind)
		log_emit(LOG_WARNING, "sse_client_behind",
		         http_not_null(json_pack("{s:I}", "unread_bytes", (json_int_t)unread)));
	return gone || bad;
}

/* struct api_sse's gone. */
static int sse_gone(struct api_sse *sse)
{
	struct sse *s = (struct sse *)sse;
	pthread_mutex_lock(&s->mu);
	bool gone = s->gone;
	pthread_mutex_unlock(&s->mu);
	return gone || atomic_load(&s->srv->closing);
}

static void *sse_produce(void *arg)
{
	struct sse *s = arg;
	s->fn(s->ctx, &s->api);
	s->ctx_free(s->ctx);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	atomic_fetch_sub(&s->srv->streams, 1);
	sse_unref(s);
	return NULL;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse *s = cls;
	(void)pos;
	pthread_mutex_lock(&s->mu);
	/* Wakes now and then to see whether the server is closing: then the
	 * stream ends here, so stopping never waits on a silent producer. */
	while (s->off == s->out.len && !s->done && !atomic_load(&s->srv->closing)) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 200 * 1000000L;
		t.tv_sec += t.tv_nsec / 1000000000L;
		t.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->cv, &s->mu, &t);
	}
	if (s->off == s->out.len && !s->done) { /* closing */
		pthread_mutex_unlock(&s->mu);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = s->out.len - s->off;
	if (n > max)
		n = max;
	if (n)
		memcpy(out, s->out.p + s->off, n);
	s->off += n;
	/* Once half is read, drop what was read: the buffer then holds at most
	 * twice what is unread, and each byte moves about once. */
	if (s->off >= s->out.len - s->off) {
		buf_consume(&s->out, s->off);
		s->off = 0;
	}
	bool end = n == 0 && s->done;
	pthread_mutex_unlock(&s->mu);
	return end ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void sse_reader_free(void *cls)
{
	struct sse *s = cls;
	pthread_mutex_lock(&s->mu);
	s->gone = true;
	pthread_mutex_unlock(&s->mu);
	sse_unref(s);
}

enum MHD_Result http_reply_stream(struct http_server *srv, struct MHD_Connection *c,
                                  struct request *r, const char *method, const char *url,
                                  struct api_resp *resp, int64_t user_id)
{
	struct sse *s = xcalloc(1, sizeof(*s));
	s->api = (struct api_sse){sse_send, sse_gone};
	buf_init(&s->out, BUF_NOCAP); /* bounded by BACKLOG_MAX and one event */
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->refs = 2; /* the producer's and the reader's */
	s->srv = srv;
	s->fn = resp->stream;
	s->ctx = resp->stream_ctx;
	s->ctx_free = resp->stream_free;
	resp->stream = NULL;

	struct MHD_Response *mr = http_not_null(MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_reader_free));
	MHD_add_response_header(mr, "Content-Type", "text/event-stream");
	MHD_add_response_header(mr, "X-Accel-Buffering", "no");
	http_headers(srv, c, mr, r, url);

	atomic_fetch_add(&srv->streams, 1);
	pthread_t t;
	if (pthread_create(&t, NULL, sse_produce, s) != 0) {
		fputs("vault: cannot start a thread\n", stderr);
		abort();
	}
	pthread_detach(t);
	enum MHD_Result ok = MHD_queue_response(c, 200, mr);
	MHD_destroy_response(mr); /* the reader's reference now belongs to MHD */
	r->answered = true;
	http_log_request(r, method, url, 200, user_id, NULL);
	return ok;
}
