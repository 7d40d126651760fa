/*
 * use_tokenize.c - text to sentence pieces, as the reference tokenizer of
 * @energetic-ai/embeddings 0.2.0 (lib/tokenizer.ts) cuts them, quirks
 * included, so the vectors match the published model's:
 *
 *   - NFKC (libutf8proc), then "▁" (U+2581) before the text and in place of
 *     every U+0020; no lower-casing (the pieces are cased) and no other
 *     white-space handling (a newline is an unknown character);
 *   - for each end position, the best total score over the pieces ending
 *     there (a character no piece starts with is USE_UNK, score 0); a total
 *     of exactly 0 counts as "none yet", and ties go to the later start;
 *   - walking back from the end, each step goes back by the length of the
 *     chosen piece's text in UTF-16 units (for USE_UNK, its text U+FFFD's);
 *   - runs of USE_UNK become one.
 *
 * Work and memory are linear in the text: at most USE_PIECE_MAX trie steps
 * per code point.
 */
#include "providers/use.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/mem.h"
#include "core/text.h"

#define SEPARATOR 0x2581 /* ▁ */

/* The node reached from node by code point cp, or -1. */
static int32_t step(const struct use_vocab *v, int32_t node, uint32_t cp)
{
	uint64_t key = ((uint64_t)(node + 1) << 21) | cp;
	size_t i = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & (v->cap - 1);
	while (v->keys[i]) {
		if (v->keys[i] == key)
			return v->child[i];
		i = (i + 1) & (v->cap - 1);
	}
	return -1;
}

/*
 * The code points the segmentation runs over: NFKC of text with the
 * separators in; *n is their count. Caller frees.
 */
static uint32_t *symbols(const char *text, size_t *n)
{
	char *clean = NULL;
	if (!text_utf8_valid(text, strlen(text)))
		text = clean = text_utf8_sanitize(text);
	utf8proc_uint8_t *nfkc = utf8proc_NFKC((const utf8proc_uint8_t *)text);
	free(clean);
	if (!nfkc)
		abort(); /* only on out of memory: the input is valid UTF-8 */
	size_t len = strlen((const char *)nfkc);
	uint32_t *cps = xmalloc((len + 2) * sizeof(*cps));
	size_t k = 0;
	if (len > 0)
		cps[k++] = SEPARATOR;
	for (size_t i = 0; i < len;) {
		int32_t cp;
		i += (size_t)utf8proc_iterate(nfkc + i, (utf8proc_ssize_t)(len - i), &cp);
		cps[k++] = cp == ' ' ? SEPARATOR : (uint32_t)cp;
	}
	free(nfkc);
	*n = k;
	return cps;
}

size_t use_tokenize(const struct use_vocab *v, const char *text, int32_t **ids)
{
	size_t n;
	uint32_t *cps = symbols(text, &n);
	double *best = xcalloc(n + 1, sizeof(*best));
	int32_t *word = xcalloc(n + 1, sizeof(*word));

	/*
	 * Forward: the reference visits end positions in order and, for each,
	 * the pieces ending there by ascending start; going through the starts
	 * in order and their pieces by length makes the same updates in the
	 * same order, each from a best[start] already final.
	 */
	for (size_t i = 0; i < n; i++) {
		bool matched = false;
		int32_t node = 0;
		for (size_t len = 1; len <= USE_PIECE_MAX && i + len <= n; len++) {
			node = step(v, node, cps[i + len - 1]);
			if (node < 0)
				break;
			if (v->piece[node] < 0)
				continue;
			matched = true;
			double score = v->score[node] + best[i];
			if (best[i + len] == 0 || score >= best[i + len]) {
				best[i + len] = score;
				word[i + len] = v->piece[node];
			}
		}
		if (!matched && (best[i + 1] == 0 || best[i] >= best[i + 1])) {
			best[i + 1] = best[i];
			word[i + 1] = USE_UNK;
		}
	}

	/* Backward, then runs of USE_UNK merged, then reversed. */
	int32_t *out = n ? xmalloc(n * sizeof(*out)) : NULL;
	size_t count = 0;
	for (ptrdiff_t at = (ptrdiff_t)n; at > 0; at -= v->len16[word[at]]) {
		if (!(count > 0 && out[count - 1] == USE_UNK && word[at] == USE_UNK))
			out[count++] = word[at];
	}
	for (size_t i = 0; i < count / 2; i++) {
		int32_t t = out[i];
		out[i] = out[count - 1 - i];
		out[count - 1 - i] = t;
	}
	free(cps);
	free(best);
	free(word);
	if (count == 0) {
		free(out);
		out = NULL;
	}
	*ids = out;
	return count;
}
