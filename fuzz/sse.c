/*
 * sse.c - fuzz target: a provider's streamed answer, Server-Sent Events
 * (providers/openai.c, sse_*) whose events are chat.completion.chunk JSON
 * (providers/llm_openai.c, on_event).
 *
 * The event reader is static in llm_openai.c; this file includes that file
 * to call it as openai.c does, without widening the provider's interface.
 *
 * Input: byte 0 sets the parser's line and event limit (16 bytes to 64 KiB),
 * byte 1 how many deltas the listener takes before it goes away (0: all),
 * byte 2 = k, then k piece lengths, then the stream. The stream is parsed
 * fed whole, and fed in pieces of those lengths (over and over, 0 an empty
 * piece); each event goes to the chunk reader as openai.c passes it ("[DONE]"
 * and a stop flag end the stream). Properties: both feeds give the same
 * events, the same result and the same answer; the events are those a plain
 * reading of the format gives (reference() below), up to a stop or the
 * limit, and all of them when nothing stopped; no event's data passes the
 * limit, holds a CR, or lacks its NUL; a result of -1 only when a line or an
 * event would pass the limit; the reader flags only what openai.h defines,
 * gives a reason with OPENAI_EV_BAD, relays only non-empty valid UTF-8
 * without NUL, keeps exactly what it relayed, within ANSWER_MAX, and says
 * OPENAI_EV_CANCEL when the listener went away. Between the pieces the
 * reader is also asked, as openai.c asks it while a provider is silent,
 * whether the answer is still wanted: it asks the listener with an empty
 * probe and relays nothing.
 */
#include "providers/llm_openai.c"

#include "core/text.h"
#include "fuzz.h"

#define ALL_FLAGS (OPENAI_EV_DELIVERED | OPENAI_EV_FINISH | OPENAI_EV_CANCEL | OPENAI_EV_BAD)

struct run {
	size_t max_len;
	struct stream answer; /* what the chunk reader keeps */
	char *relayed;        /* what it passed to the listener */
	size_t relayed_len;
	size_t deltas, deltas_max;
	char *events; /* every event's data, each after its length */
	size_t events_len;
	bool done;
};

static void append(char **buf, size_t *len, const void *s, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	CHECK(*buf, "out of memory");
	memcpy(*buf + *len, s, n);
	*len += n;
}

/* Whether the listener has gone: it takes deltas_max deltas (0: all). */
static bool gone(const struct run *r)
{
	return r->deltas_max && r->deltas >= r->deltas_max;
}

static int on_delta(void *ctx, const char *text, size_t len)
{
	struct run *r = ctx;
	if (len == 0) /* a probe */
		return gone(r);
	CHECK(text_utf8_valid(text, len), "a delta of %zu bytes is not valid UTF-8", len);
	append(&r->relayed, &r->relayed_len, text, len);
	r->deltas++;
	return gone(r);
}

/* What openai.c's on_sse_event does with an event: [DONE], or the chunk reader. */
static int on_sse(void *ctx, const char *data, size_t len)
{
	struct run *r = ctx;
	CHECK(!r->done, "an event after [DONE]");
	CHECK(len <= r->max_len, "an event of %zu bytes past the limit of %zu", len, r->max_len);
	CHECK(data[len] == '\0', "an event without its NUL");
	CHECK(!memchr(data, '\r', len), "a CR in an event");
	append(&r->events, &r->events_len, &len, sizeof(len));
	append(&r->events, &r->events_len, data, len);
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		r->done = true;
		return 1;
	}
	struct verror err;
	verr_clear(&err);
	size_t before = r->deltas;
	int rc = on_event(&r->answer, data, len, &err);
	CHECK((rc & ~ALL_FLAGS) == 0, "flags %#x", rc);
	if (rc & OPENAI_EV_BAD)
		CHECK(err.code == VERR_AI_UNAVAILABLE && err.detail[0],
		      "no reason for a bad event");
	CHECK(!(rc & OPENAI_EV_DELIVERED) == (r->deltas == before), "delivered without a delta");
	if (r->deltas > before && r->deltas_max && r->deltas >= r->deltas_max)
		CHECK(rc & OPENAI_EV_CANCEL, "the listener went away unnoticed");
	CHECK(r->answer.text.len == r->relayed_len &&
	          (r->answer.text.len == 0 ||
	           memcmp(r->answer.text.p, r->relayed, r->relayed_len) == 0),
	      "kept %zu bytes, relayed %zu", r->answer.text.len, r->relayed_len);
	CHECK(r->answer.text.len <= ANSWER_MAX, "an answer of %zu bytes", r->answer.text.len);
	CHECK(!r->answer.text.p || strlen(r->answer.text.p) == r->answer.text.len,
	      "a NUL in the answer");
	return (rc & (OPENAI_EV_CANCEL | OPENAI_EV_BAD)) != 0;
}

/* Parses the stream in pieces of the given lengths, cycled (all of it in one when nlens is 0). */
static int parse(struct run *r, const char *s, size_t n, const uint8_t *lens, size_t nlens)
{
	struct sse_parser p;
	sse_init(&p, r->max_len);
	r->answer = (struct stream){.on_delta = on_delta, .ctx = r};
	buf_init(&r->answer.text, ANSWER_MAX); /* as chat_stream does */
	int rc = 0;
	size_t off = 0, cycle_start = 0;
	for (size_t i = 0; off < n && rc == 0; i++) {
		size_t len = nlens ? lens[i % nlens] : n;
		if (nlens && i % nlens == nlens - 1 && off + len == cycle_start)
			len = n - off; /* a cycle of empty pieces: the rest at once */
		if (len > n - off)
			len = n - off;
		rc = sse_feed(&p, s + off, len, on_sse, r);
		off += len;
		if (nlens && rc == 0) { /* a pause in the stream: is the answer still wanted? */
			struct verror err;
			size_t before = r->answer.text.len;
			int probe = on_event(&r->answer, NULL, 0, &err);
			CHECK(probe == (gone(r) ? OPENAI_EV_CANCEL : 0), "a probe answered %#x",
			      probe);
			CHECK(r->answer.text.len == before, "a probe changed the answer");
		}
		if (nlens && i % nlens == nlens - 1)
			cycle_start = off;
	}
	if (rc == 0)
		rc = sse_finish(&p, on_sse, r);
	sse_cleanup(&p);
	return rc;
}

/*
 * The events of s[0..n) by the letter of the format, read whole and
 * without limits: each event's data after its length, as struct run keeps
 * them, into *out; *over = how many came before the first line or event
 * data longer than max, or SIZE_MAX if none is.
 */
static void reference(const char *s, size_t n, size_t max, char **out, size_t *out_len,
                      size_t *over)
{
	char *data = NULL;
	size_t data_len = 0, events = 0;
	bool has_data = false;
	*over = SIZE_MAX;
	for (size_t i = 0;;) {
		size_t j = i;
		while (j < n && s[j] != '\r' && s[j] != '\n')
			j++;
		if (j == n && j == i) /* the end, with no unterminated line */
			break;
		const char *line = s + i;
		size_t len = j - i;
		if (j < n)
			j += s[j] == '\r' && j + 1 < n && s[j + 1] == '\n' ? 2 : 1;
		i = j;
		if (len > max) {
			*over = events;
			break;
		}
		if (len == 0 && has_data) {
			append(out, out_len, &data_len, sizeof(data_len));
			append(out, out_len, data ? data : "", data_len);
			events++;
			data_len = 0;
			has_data = false;
		}
		if (len == 0 || line[0] == ':')
			continue;
		const char *colon = memchr(line, ':', len);
		size_t flen = colon ? (size_t)(colon - line) : len;
		if (flen != 4 || memcmp(line, "data", 4) != 0)
			continue;
		const char *v = colon ? colon + 1 : line + len;
		if (v < line + len && *v == ' ')
			v++;
		size_t vlen = (size_t)(line + len - v);
		if (data_len + has_data + vlen > max) {
			*over = events;
			break;
		}
		if (has_data)
			append(&data, &data_len, "\n", 1);
		append(&data, &data_len, v, vlen);
		has_data = true;
	}
	if (*over == SIZE_MAX && has_data) { /* the stream's end ends its last event */
		append(out, out_len, &data_len, sizeof(data_len));
		append(out, out_len, data ? data : "", data_len);
	}
	free(data);
}

static void run_free(struct run *r)
{
	buf_free(&r->answer.text);
	free(r->relayed);
	free(r->events);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	size_t max_len = (size_t)16 << (take_byte(&in) % 13);
	size_t deltas_max = take_byte(&in) % 8;
	size_t nlens = take_byte(&in) % 16;
	uint8_t lens[16];
	for (size_t i = 0; i < nlens; i++)
		lens[i] = take_byte(&in);
	const char *s = (const char *)in.p;

	struct run whole = {.max_len = max_len, .deltas_max = deltas_max};
	struct run pieces = whole;
	int rc_whole = parse(&whole, s, in.n, NULL, 0);
	int rc_pieces = parse(&pieces, s, in.n, lens, nlens);

	CHECK(rc_whole == rc_pieces, "whole: %d, in pieces: %d", rc_whole, rc_pieces);
	CHECK(whole.events_len == pieces.events_len &&
	          (whole.events_len == 0 ||
	           memcmp(whole.events, pieces.events, whole.events_len) == 0),
	      "whole and in pieces, the events differ");
	CHECK(whole.relayed_len == pieces.relayed_len, "whole and in pieces, the answers differ");

	/* The parser's events are the reference's, up to a stop or a limit. */
	char *want = NULL;
	size_t want_len = 0, over;
	reference(s, in.n, max_len, &want, &want_len, &over);
	CHECK(whole.events_len <= want_len &&
	          (whole.events_len == 0 || memcmp(whole.events, want, whole.events_len) == 0),
	      "the events are not the format's");
	if (rc_whole == 0)
		CHECK(over == SIZE_MAX && whole.events_len == want_len,
		      "events missing, or a limit not kept");
	if (rc_whole == -1)
		CHECK(over != SIZE_MAX, "-1 with every line and event within %zu bytes", max_len);
	free(want);
	run_free(&whole);
	run_free(&pieces);
	return 0;
}
