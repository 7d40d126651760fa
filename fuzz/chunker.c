/*
 * chunker.c - fuzz target: a note cut into chunks to embed
 * (services/chunker.c, on md4c behind services/markdown.c's bounds).
 *
 * Input: byte 0 picks the reading of the rest. Even: the rest is the note,
 * made valid UTF-8 first as every note is. Odd: each byte becomes a letter,
 * a space or a line break, so the note is plain prose and no word can be
 * Markdown syntax. Properties: at least one chunk; every heading trail and
 * text is valid UTF-8, every text at most CHUNK_MAX_CHARS code points; at
 * most one chunk per 32 bytes of note (plus 64) and all of them together at
 * most three times the note (plus 4 KiB), the bounds chunker.c keeps; in
 * prose, every word of up to 100 letters is whole in some chunk. The time
 * bound is libFuzzer's -timeout (scripts/fuzz).
 */
#include <stdbool.h>
#include <string.h>

#include "core/text.h"
#include "fuzz.h"
#include "services/chunker.h"

#define TITLE            "Fuzzed note"
#define CHUNK_MIN_BYTES  32
#define CHUNKS_FACTOR    3
#define SLACK            4096
#define WORD_CHECKED_MAX 100

static bool letter(char c)
{
	return c >= 'a' && c <= 'z';
}

/* Where word[0..n) stands whole (between non-letters) in text[from..], or NULL. */
static const char *find_word(const char *text, size_t from, const char *word, size_t n)
{
	size_t len = strlen(text);
	for (const char *p = text + from; (p = memmem(p, len - (size_t)(p - text), word, n)); p++)
		if ((p == text || !letter(p[-1])) && !letter(p[n]))
			return p;
	return NULL;
}

/*
 * Every short word of the note, in order, in the chunks, in order: a word is
 * looked for after the last one found, in that chunk and then the next ones
 * (which begin with an overlap, so a word may be found a little early).
 */
static void check_words(const char *note, const struct chunk *chunks, size_t nchunks)
{
	size_t c = 0, off = 0;
	for (const char *p = note; *p;) {
		size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz");
		if (n == 0) {
			p++;
			continue;
		}
		const char *at = NULL;
		for (; n <= WORD_CHECKED_MAX && c < nchunks; c++, off = 0)
			if ((at = find_word(chunks[c].text, off, p, n)))
				break;
		CHECK(n > WORD_CHECKED_MAX || at, "word \"%.*s\" at %zu is in no chunk", (int)n, p,
		      (size_t)(p - note));
		if (at)
			off = (size_t)(at - chunks[c].text) + n;
		p += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	bool prose = take_byte(&in) & 1;
	char *note;
	size_t n;
	if (prose) {
		static const char letters[] = "abcdefghijklmnopqrstuvwxyz \n";
		note = malloc(in.n + 1);
		CHECK(note, "out of memory");
		for (n = 0; n < in.n; n++)
			note[n] = letters[in.p[n] % (sizeof(letters) - 1)];
		note[n] = '\0';
	} else {
		note = text_utf8_sanitize_n((const char *)in.p, in.n, &n);
	}

	struct chunk *chunks;
	size_t nchunks = chunker_split(TITLE, note, &chunks);
	CHECK(nchunks >= 1, "no chunk");
	CHECK(nchunks <= n / CHUNK_MIN_BYTES + 64, "%zu chunks of a %zu-byte note", nchunks, n);
	size_t bytes = 0;
	for (size_t i = 0; i < nchunks; i++) {
		size_t hn = strlen(chunks[i].heading), tn = strlen(chunks[i].text);
		CHECK(text_utf8_valid(chunks[i].heading, hn), "chunk %zu: heading not UTF-8", i);
		CHECK(text_utf8_valid(chunks[i].text, tn), "chunk %zu: text not UTF-8", i);
		size_t chars = text_utf8_len(chunks[i].text, tn);
		CHECK(chars <= CHUNK_MAX_CHARS, "chunk %zu: %zu characters", i, chars);
		bytes += hn + tn;
	}
	CHECK(bytes <= CHUNKS_FACTOR * n + SLACK + strlen(TITLE),
	      "%zu bytes of chunks from a %zu-byte note", bytes, n);
	if (prose)
		check_words(note, chunks, nchunks);
	chunks_free(chunks, nchunks);
	free(note);
	return 0;
}
