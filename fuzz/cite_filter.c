/*
 * cite_filter.c - fuzz target: the citation filter streamed answers pass
 * through (services/rag.c, cite_filter_*).
 *
 * Input: the number of sources (byte 0, 0-15), k (byte 1, 0-15) and k piece
 * lengths, then the model's text. The text goes through one filter in
 * pieces of those lengths (over and over, 0 an empty piece), through a
 * second one whole, and through a third whose consumer asks to stop after a
 * few pieces. Properties: every emitted piece is non-empty valid UTF-8, but
 * for one empty probe ("is anyone still waiting?", llm.h) per empty piece
 * fed, and none otherwise; the pieces joined are the whole feed's output,
 * with the same sources cited;
 * only sources 1..n are cited; the output is at most three times the text
 * (U+FFFD for each bad byte); valid text without "[" comes out unchanged;
 * after a stop no piece is emitted.
 */
#include <stdbool.h>
#include <string.h>

#include "core/text.h"
#include "fuzz.h"
#include "services/rag.h"

#define SOURCES_MAX 15

struct sink {
	char *out;
	size_t len, cap;
	size_t pieces;
	size_t probes;     /* empty pieces: the filter asks whether anyone waits */
	size_t stop_after; /* ask to stop once this many pieces came; 0 never */
	bool stopped;
};

static int collect(void *ctx, const char *text, size_t len)
{
	struct sink *s = ctx;
	CHECK(!s->stopped, "a piece came after the consumer asked to stop");
	if (len == 0) {
		s->probes++;
		return 0;
	}
	CHECK(text_utf8_valid(text, len), "a piece of %zu bytes is not valid UTF-8", len);
	if (s->len + len > s->cap) {
		s->cap = 2 * (s->len + len);
		s->out = realloc(s->out, s->cap);
		CHECK(s->out, "out of memory");
	}
	memcpy(s->out + s->len, text, len);
	s->len += len;
	s->pieces++;
	s->stopped = s->stop_after && s->pieces >= s->stop_after;
	return s->stopped;
}

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/*
 * Feeds text in pieces of the given lengths, cycled (a cycle of empty
 * pieces ends with the rest in one); returns what the last call returned.
 * *empty counts the empty pieces.
 */
static int feed_pieces(struct cite_filter *f, const char *text, size_t n, const uint8_t *lens,
                       size_t nlens, size_t *empty)
{
	*empty = 0;
	size_t off = 0, cycle_start = 0;
	for (size_t i = 0; off < n || i == 0; i++) {
		size_t len = nlens ? lens[i % nlens] : n;
		if (nlens && i % nlens == nlens - 1 && off + len == cycle_start)
			len = n - off;
		if (len > n - off)
			len = n - off;
		*empty += len == 0;
		int rc = cite_filter_feed(f, text + off, len);
		if (rc)
			return rc;
		off += len;
		if (nlens && i % nlens == nlens - 1)
			cycle_start = off;
	}
	return cite_filter_flush(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	int nsources = take_byte(&in) % (SOURCES_MAX + 1);
	size_t nlens = take_byte(&in) % 16;
	uint8_t lens[16];
	for (size_t i = 0; i < nlens; i++)
		lens[i] = take_byte(&in);
	const char *text = (const char *)in.p;
	size_t n = in.n;

	bool cited_pieces[SOURCES_MAX + 1] = {0}, cited_whole[SOURCES_MAX + 1] = {0},
	                                cited_stop[SOURCES_MAX + 1] = {0};
	struct sink pieces = {0}, whole = {0}, stop = {.stop_after = 1 + n % 3};
	struct cite_filter f;

	size_t empty;
	cite_filter_init(&f, nsources, cited_pieces, collect, &pieces);
	CHECK(feed_pieces(&f, text, n, lens, nlens, &empty) == 0, "the filter stopped on its own");
	CHECK(pieces.probes == empty, "%zu probes for %zu empty pieces", pieces.probes, empty);
	cite_filter_init(&f, nsources, cited_whole, collect, &whole);
	CHECK(cite_filter_feed(&f, text, n) == 0 && cite_filter_flush(&f) == 0,
	      "the filter stopped on its own");
	CHECK(whole.probes == (n == 0), "%zu probes fed %zu bytes at once", whole.probes, n);

	CHECK(same(pieces.out, pieces.len, whole.out, whole.len),
	      "fed in pieces: %zu bytes out, fed whole: %zu", pieces.len, whole.len);
	CHECK(memcmp(cited_pieces, cited_whole, sizeof(cited_whole)) == 0,
	      "pieces and whole cite different sources");
	CHECK(!cited_whole[0], "source 0 cited");
	for (int i = nsources + 1; i <= SOURCES_MAX; i++)
		CHECK(!cited_whole[i], "source %d of %d cited", i, nsources);
	CHECK(whole.len <= 3 * n, "%zu bytes out of %zu in", whole.len, n);
	if (text_utf8_valid(text, n) && !memchr(text, '[', n))
		CHECK(same(whole.out, whole.len, text, n), "text without a marker changed");

	/* A consumer that goes away: the filter says so and emits nothing more. */
	cite_filter_init(&f, nsources, cited_stop, collect, &stop);
	int rc = feed_pieces(&f, text, n, lens, nlens, &empty);
	CHECK(rc != 0 || !stop.stopped, "the stop was not reported");
	if (stop.stopped)
		CHECK(cite_filter_feed(&f, text, n) != 0 && cite_filter_flush(&f) != 0,
		      "a stopped filter goes on");

	free(pieces.out);
	free(whole.out);
	free(stop.out);
	return 0;
}
