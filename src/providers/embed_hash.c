/*
 * embed_hash.c - the hashing embedder (EMBEDDING_PROVIDER=hash): deterministic,
 * no network, no key, no model file; for machines too small for the neural
 * one (embed_use.c), at the cost of matching words, not meanings.
 *
 * A text becomes a bag of hashed features: Snowball-stemmed words (stop
 * words dropped), pairs of adjacent words, and character 3-5 grams of each
 * word. Each feature is hashed with FNV-1a + a splitmix64 finaliser into one
 * of dim slots with a sign taken from the hash (the "hashing trick"), weighted
 * by 1 + ln(count) and its family's weight, and the sum is L2-normalised.
 * The exact algorithm, so another implementation can reproduce the vectors,
 * is in docs/hash-embedder.md; change it and the model name must change too.
 *
 * Snowball stemmers are not thread-safe, so embed() borrows one from a small
 * mutex-guarded pool for the duration of a call; everything else is per call.
 */
#include "providers/embedder.h"

#include <assert.h>
#include <libstemmer.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/text.h"

#define LOCAL_MAX_BATCH 256

/* A word is cut to its first WORD_MAX_CPS code points (long URLs, hashes). */
#define WORD_MAX_CPS   40
#define WORD_MAX_BYTES (WORD_MAX_CPS * 4)

#define NGRAM_MIN 3
#define NGRAM_MAX 5

/*
 * Feature families: the byte hashed before the feature's text, and the
 * weight of the family (tuned on a handful of note/query pairs: words carry
 * meaning, pairs add phrases, character grams only a typo-proof backdrop).
 */
enum family { FAM_WORD, FAM_BIGRAM, FAM_CHAR };
static const unsigned char fam_byte[] = {'w', 'b', 'c'};
static const double fam_weight[] = {1.0, 0.3, 0.2};

struct local {
	struct embedder base; /* first, so a struct embedder * is a struct local * */
	pthread_mutex_t lock; /* guards idle */
	struct sb_stemmer **idle;
	size_t nidle, cap;
};

/* ---------------------------------------------------------------------- */
/* Hashing                                                                 */
/* ---------------------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static inline uint64_t fnv_byte(uint64_t h, unsigned char b)
{
	return (h ^ b) * FNV_PRIME;
}

static inline uint64_t fnv_bytes(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = fnv_byte(h, (unsigned char)p[i]);
	return h;
}

/* splitmix64's finaliser: spreads FNV's weak low bits over all 64. */
static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---------------------------------------------------------------------- */
/* Feature counts: open addressing on the 64-bit feature hash               */
/* ---------------------------------------------------------------------- */

struct slot {
	uint64_t key; /* mixed feature hash; 0 = empty */
	uint32_t count;
	uint32_t family; /* enum family of its first occurrence */
};

struct counts {
	struct slot *slots;
	size_t cap, used; /* cap is a power of two */
};

static void counts_init(struct counts *c, size_t expect)
{
	size_t cap = 64;
	while (cap < expect * 2)
		cap <<= 1;
	c->slots = xcalloc(cap, sizeof(*c->slots));
	c->cap = cap;
	c->used = 0;
}

static void counts_put_slot(struct slot *slots, size_t cap, struct slot s)
{
	size_t i = (size_t)(s.key >> 20) & (cap - 1);
	while (slots[i].key)
		i = (i + 1) & (cap - 1);
	slots[i] = s;
}

static void counts_add(struct counts *c, uint64_t h, enum family fam)
{
	uint64_t key = mix64(h);
	if (key == 0)
		key = 1; /* 0 marks an empty slot; one value in 2^64 moves */
	size_t i = (size_t)(key >> 20) & (c->cap - 1);
	while (c->slots[i].key) {
		if (c->slots[i].key == key) {
			c->slots[i].count++;
			return;
		}
		i = (i + 1) & (c->cap - 1);
	}
	c->slots[i] = (struct slot){key, 1, (uint32_t)fam};
	if (++c->used * 2 > c->cap) {
		size_t ncap = c->cap * 2;
		struct slot *ns = xcalloc(ncap, sizeof(*ns));
		for (size_t k = 0; k < c->cap; k++)
			if (c->slots[k].key)
				counts_put_slot(ns, ncap, c->slots[k]);
		free(c->slots);
		c->slots = ns;
		c->cap = ncap;
	}
}

/* ---------------------------------------------------------------------- */
/* Stop words: matched against the folded word, before stemming             */
/* ---------------------------------------------------------------------- */

/* Sorted (strcmp order), so the list is easy to read and diff. */
static const char *const stop_words[] = {
    "a",       "about",   "above",     "after",    "again",      "against",    "all",     "also",
    "am",      "an",      "and",       "any",      "are",        "arent",      "as",      "at",
    "be",      "because", "been",      "before",   "being",      "below",      "between", "both",
    "but",     "by",      "can",       "cant",     "could",      "did",        "didnt",   "do",
    "does",    "doesnt",  "doing",     "dont",     "down",       "during",     "each",    "either",
    "else",    "etc",     "even",      "ever",     "every",      "few",        "for",     "from",
    "further", "had",     "has",       "have",     "having",     "he",         "her",     "here",
    "hers",    "herself", "him",       "himself",  "his",        "how",        "however", "i",
    "if",      "im",      "in",        "into",     "is",         "isnt",       "it",      "its",
    "itself",  "ive",     "just",      "let",      "lets",       "may",        "me",      "might",
    "more",    "most",    "much",      "must",     "my",         "myself",     "no",      "nor",
    "not",     "of",      "off",       "on",       "once",       "only",       "or",      "other",
    "our",     "ours",    "ourselves", "out",      "over",       "own",        "per",     "same",
    "shall",   "she",     "should",    "so",       "some",       "such",       "than",    "that",
    "thats",   "the",     "their",     "theirs",   "them",       "themselves", "then",    "there",
    "these",   "they",    "theyre",    "this",     "those",      "through",    "thus",    "to",
    "too",     "under",   "until",     "up",       "upon",       "us",         "very",    "via",
    "was",     "wasnt",   "we",        "were",     "werent",     "what",       "whats",   "when",
    "where",   "whether", "which",     "while",    "who",        "whom",       "whose",   "why",
    "will",    "with",    "within",    "without",  "wont",       "would",      "yet",     "you",
    "your",    "youre",   "yours",     "yourself", "yourselves",
};

#define N_STOP (sizeof(stop_words) / sizeof(stop_words[0]))

/* An open-addressing set over stop_words, by FNV-1a of the word; built once. */
#define STOP_SLOTS 512
static short stop_set[STOP_SLOTS]; /* index into stop_words + 1; 0 = empty */
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static void stop_init(void)
{
	for (size_t i = 0; i < N_STOP; i++) {
		assert(i == 0 || strcmp(stop_words[i - 1], stop_words[i]) < 0);
		const char *w = stop_words[i];
		size_t k = (size_t)fnv_bytes(FNV_OFFSET, w, strlen(w)) & (STOP_SLOTS - 1);
		while (stop_set[k])
			k = (k + 1) & (STOP_SLOTS - 1);
		stop_set[k] = (short)(i + 1);
	}
}

static bool is_stop(const char *w, size_t n)
{
	if (n > 10)
		return false; /* the longest is "themselves" */
	size_t k = (size_t)fnv_bytes(FNV_OFFSET, w, n) & (STOP_SLOTS - 1);
	while (stop_set[k]) {
		const char *s = stop_words[stop_set[k] - 1];
		if (strncmp(s, w, n) == 0 && s[n] == '\0')
			return true;
		k = (k + 1) & (STOP_SLOTS - 1);
	}
	return false;
}

/* ---------------------------------------------------------------------- */
/* Characters: decoding, classes and folding                               */
/* ---------------------------------------------------------------------- */

/* Decodes the code point at s[*i], advancing *i; a malformed byte is U+FFFD. */
static uint32_t decode(const unsigned char *s, size_t *i)
{
	unsigned c = s[*i];
	size_t len;
	uint32_t cp, min;
	if (c < 0x80) {
		(*i)++;
		return c;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, cp = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, cp = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		(*i)++;
		return 0xFFFD;
	}
	for (size_t k = 1; k < len; k++) {
		if ((s[*i + k] & 0xC0) != 0x80) { /* also stops at the NUL */
			(*i)++;
			return 0xFFFD;
		}
		cp = (cp << 6) | (s[*i + k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		(*i)++;
		return 0xFFFD;
	}
	*i += len;
	return cp;
}

enum cls {
	C_SEP,    /* ends a word */
	C_BREAK,  /* ends a word and a run of bigrams: . ! ? ; : newline */
	C_IGNORE, /* inside a word, dropped: combining marks, joiners */
	C_APOS,   /* ' or U+2019: inside a word when a letter follows, else C_SEP */
	C_WORD,   /* letter or digit */
	C_CJK,    /* Han or kana: a word by itself */
};

static enum cls classify(uint32_t cp)
{
	if (cp < 0x80) {
		if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		    (cp >= '0' && cp <= '9'))
			return C_WORD;
		if (cp == '\'')
			return C_APOS;
		if (cp == '.' || cp == '!' || cp == '?' || cp == ';' || cp == ':' || cp == '\n')
			return C_BREAK;
		return C_SEP;
	}
	if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7)
		return C_SEP; /* C1 controls, NBSP, Latin-1 punctuation and signs */
	if (cp >= 0x02B0 && cp <= 0x036F)
		return C_IGNORE; /* modifier letters, combining diacritics */
	if (cp == 0x200C || cp == 0x200D || (cp >= 0xFE00 && cp <= 0xFE0F))
		return C_IGNORE; /* zero-width (non-)joiner, variation selectors */
	if (cp == 0x2019)
		return C_APOS;
	if (cp == 0x2026 || cp == 0x3002 || cp == 0xFF01 || cp == 0xFF0E || cp == 0xFF1A ||
	    cp == 0xFF1B || cp == 0xFF1F)
		return C_BREAK; /* ellipsis, ideographic and full-width stops */
	if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
	    (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xFE10 && cp <= 0xFE6F) ||
	    (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
	    (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
	    (cp >= 0xFFF0 && cp <= 0xFFFF) || (cp >= 0x1F000 && cp <= 0x1FAFF))
		return C_SEP; /* punctuation, symbols, arrows, box drawing, emoji */
	if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
	    (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	    (cp >= 0x20000 && cp <= 0x2FFFF))
		return C_CJK;
	return C_WORD;
}

/*
 * ASCII for U+00C0..U+017F, one character per code point: the lower-case
 * base letter, or '_' for x and ÷ (never reached: they are C_SEP), or an
 * upper-case letter standing for two: A = "ae", O = "oe", T = "th",
 * S = "ss", I = "ij".
 */
static const char latin_fold[] = "aaaaaaAceeeeiiii"  /* U+00C0 */
                                 "dnooooo_ouuuuyTS"  /* U+00D0 */
                                 "aaaaaaAceeeeiiii"  /* U+00E0 */
                                 "dnooooo_ouuuuyTy"  /* U+00F0 */
                                 "aaaaaaccccccccdd"  /* U+0100 */
                                 "ddeeeeeeeeeegggg"  /* U+0110 */
                                 "gggghhhhiiiiiiii"  /* U+0120 */
                                 "iiIIjjkkklllllll"  /* U+0130 */
                                 "lllnnnnnnnnnoooo"  /* U+0140 */
                                 "ooOOrrrrrrssssss"  /* U+0150 */
                                 "ssttttttuuuuuuuu"  /* U+0160 */
                                 "uuuuwwyyyzzzzzzs"; /* U+0170 */

_Static_assert(sizeof(latin_fold) == 0x180 - 0xC0 + 1, "latin_fold covers U+00C0..U+017F");

/* Appends the folded form of a C_WORD code point to w; returns bytes written. */
static size_t fold(uint32_t cp, char *w)
{
	if (cp < 0x80) {
		w[0] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
		return 1;
	}
	if (cp >= 0xC0 && cp < 0x180) {
		switch (latin_fold[cp - 0xC0]) {
		case 'A':
			memcpy(w, "ae", 2);
			return 2;
		case 'O':
			memcpy(w, "oe", 2);
			return 2;
		case 'T':
			memcpy(w, "th", 2);
			return 2;
		case 'S':
			memcpy(w, "ss", 2);
			return 2;
		case 'I':
			memcpy(w, "ij", 2);
			return 2;
		default:
			w[0] = latin_fold[cp - 0xC0];
			return 1;
		}
	}
	if (cp == 0x1E9E) { /* capital sharp s */
		memcpy(w, "ss", 2);
		return 2;
	}
	if (cp >= 0xFF10 && cp <= 0xFF5A) { /* full-width digits and letters */
		uint32_t a = cp - 0xFF10 + '0';
		return fold(a, w);
	}
	if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2)
		cp += 0x20; /* Greek capitals */
	else if (cp == 0x0386)
		cp = 0x03AC;
	else if (cp >= 0x0388 && cp <= 0x038A)
		cp += 0x25;
	else if (cp == 0x038C)
		cp = 0x03CC;
	else if (cp == 0x038E || cp == 0x038F)
		cp += 0x3F;
	else if (cp == 0x03C2)
		cp = 0x03C3; /* final sigma */
	else if (cp >= 0x0410 && cp <= 0x042F)
		cp += 0x20; /* Cyrillic capitals */
	else if (cp >= 0x0400 && cp <= 0x040F)
		cp += 0x50;
	return text_utf8_encode(cp, w);
}

/* ---------------------------------------------------------------------- */
/* Features                                                                */
/* ---------------------------------------------------------------------- */

struct featurizer {
	struct counts counts;
	struct sb_stemmer *stemmer;
	char prev[WORD_MAX_BYTES * 2]; /* stem of the previous word in this run */
	size_t prev_len;               /* 0: the run has no previous word */
};

/* Character 3-5 grams of "<" word ">", counted over code points. */
static void add_char_ngrams(struct featurizer *f, const char *w, size_t n)
{
	/* Byte offset of each code point of the padded word, plus the end. */
	size_t off[WORD_MAX_CPS + 3];
	char padded[WORD_MAX_BYTES + 2];
	size_t m = 0, len = 0;
	padded[len++] = '<';
	memcpy(padded + len, w, n);
	len += n;
	padded[len++] = '>';
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)padded[i] & 0xC0) != 0x80)
			off[m++] = i;
	off[m] = len;
	for (size_t s = 0; s + NGRAM_MIN <= m; s++) {
		uint64_t h = fnv_byte(FNV_OFFSET, fam_byte[FAM_CHAR]);
		h = fnv_bytes(h, padded + off[s], off[s + NGRAM_MIN - 1] - off[s]);
		for (size_t k = NGRAM_MIN; k <= NGRAM_MAX && s + k <= m; k++) {
			h = fnv_bytes(h, padded + off[s + k - 1], off[s + k] - off[s + k - 1]);
			counts_add(&f->counts, h, FAM_CHAR);
		}
	}
}

/*
 * One folded word w (n bytes, ascii: only ASCII bytes, digit: holds a digit,
 * cjk: a single Han/kana character).
 */
static void add_word(struct featurizer *f, const char *w, size_t n, bool ascii, bool digit,
                     bool cjk)
{
	if (is_stop(w, n))
		return;

	const char *stem = w;
	size_t slen = n;
	if (ascii && f->stemmer) {
		const sb_symbol *s = sb_stemmer_stem(f->stemmer, (const sb_symbol *)w, (int)n);
		int sl = sb_stemmer_length(f->stemmer);
		if (s && sl > 0 && (size_t)sl <= WORD_MAX_BYTES) {
			stem = (const char *)s;
			slen = (size_t)sl;
		}
	}

	uint64_t h = fnv_byte(FNV_OFFSET, fam_byte[FAM_WORD]);
	counts_add(&f->counts, fnv_bytes(h, stem, slen), FAM_WORD);

	if (f->prev_len) {
		h = fnv_byte(FNV_OFFSET, fam_byte[FAM_BIGRAM]);
		h = fnv_bytes(h, f->prev, f->prev_len);
		h = fnv_byte(h, ' ');
		counts_add(&f->counts, fnv_bytes(h, stem, slen), FAM_BIGRAM);
	}
	memcpy(f->prev, stem, slen);
	f->prev_len = slen;

	if (!digit && !cjk)
		add_char_ngrams(f, w, n);
}

/* Tokenises text and counts its features into f->counts. */
static void featurize(struct featurizer *f, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	char w[WORD_MAX_BYTES + 8];
	size_t n = 0, cps = 0;
	bool ascii = true, digit = false;
	size_t i = 0;

	f->prev_len = 0;
	while (1) {
		uint32_t cp = s[i] ? decode(s, &i) : 0;
		enum cls c = cp ? classify(cp) : C_BREAK;
		if (c == C_APOS && n > 0) {
			/* Inside a word when a letter follows: "don't" -> "dont". */
			size_t j = i;
			uint32_t next = s[j] ? decode(s, &j) : 0;
			c = next && classify(next) == C_WORD ? C_IGNORE : C_SEP;
		} else if (c == C_APOS) {
			c = C_SEP;
		}
		if (c == C_IGNORE)
			continue;
		if (c == C_WORD) {
			/* Folding may give two letters (æ -> ae): count what is kept. */
			char buf[8];
			size_t k = fold(cp, buf), kcps = 0;
			for (size_t b = 0; b < k; b++)
				kcps += ((unsigned char)buf[b] & 0xC0) != 0x80;
			if (cps + kcps > WORD_MAX_CPS) {
				cps = WORD_MAX_CPS; /* full: the rest of the word is dropped */
				continue;
			}
			for (size_t b = 0; b < k; b++) {
				if (buf[b] & 0x80)
					ascii = false;
				else if (buf[b] >= '0' && buf[b] <= '9')
					digit = true;
			}
			memcpy(w + n, buf, k);
			n += k;
			cps += kcps;
			continue;
		}
		if (n > 0)
			add_word(f, w, n, ascii, digit, false);
		n = cps = 0;
		ascii = true;
		digit = false;
		if (c == C_CJK) {
			size_t k = text_utf8_encode(cp, w);
			add_word(f, w, k, false, false, true);
		} else if (c == C_BREAK) {
			f->prev_len = 0;
		}
		if (!cp)
			break;
	}
}

/* Turns the counts into a unit vector of dim floats (all zero without features). */
static void project(const struct counts *c, int dim, double *acc, float *out)
{
	memset(acc, 0, (size_t)dim * sizeof(*acc));
	for (size_t k = 0; k < c->cap; k++) {
		const struct slot *s = &c->slots[k];
		if (!s->key)
			continue;
		double tf = s->count == 1 ? 1.0 : 1.0 + log((double)s->count);
		double v = fam_weight[s->family] * tf;
		size_t idx = (size_t)(s->key % (uint64_t)dim);
		acc[idx] += (s->key >> 63) ? -v : v;
	}
	double norm = 0;
	for (int d = 0; d < dim; d++)
		norm += acc[d] * acc[d];
	norm = sqrt(norm);
	for (int d = 0; d < dim; d++)
		out[d] = norm > 0 ? (float)(acc[d] / norm) : 0.0f;
}

/* ---------------------------------------------------------------------- */
/* Stemmer pool and the provider                                           */
/* ---------------------------------------------------------------------- */

static struct sb_stemmer *stemmer_get(struct local *l)
{
	struct sb_stemmer *s = NULL;
	pthread_mutex_lock(&l->lock);
	if (l->nidle)
		s = l->idle[--l->nidle];
	pthread_mutex_unlock(&l->lock);
	return s ? s : sb_stemmer_new("english", "UTF_8");
}

static void stemmer_put(struct local *l, struct sb_stemmer *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&l->lock);
	if (l->nidle == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->idle = xrealloc(l->idle, l->cap * sizeof(*l->idle));
	}
	l->idle[l->nidle++] = s;
	pthread_mutex_unlock(&l->lock);
}

static enum verr local_embed(struct embedder *e, const char *const *texts, size_t n, float *out,
                             struct verror *err)
{
	struct local *l = (struct local *)e;
	enum verr rc = VERR_OK;
	struct featurizer f = {0};
	double *acc = NULL;

	for (size_t i = 0; i < n; i++)
		if (!texts[i])
			return verr_set(err, VERR_INVALID, "embed: text %zu is NULL", i);

	f.stemmer = stemmer_get(l);
	if (!f.stemmer) {
		rc = verr_set(err, VERR_INTERNAL, "embed: cannot create the Snowball stemmer");
		goto out;
	}
	acc = xmalloc((size_t)e->dim * sizeof(*acc));
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(texts[i]);
		counts_init(&f.counts, len < 16384 ? len * 2 : 32768);
		featurize(&f, texts[i]);
		project(&f.counts, e->dim, acc, out + i * (size_t)e->dim);
		free(f.counts.slots);
	}
out:
	stemmer_put(l, f.stemmer);
	free(acc);
	return rc;
}

static void local_free(struct embedder *e)
{
	struct local *l = (struct local *)e;
	if (!l)
		return;
	for (size_t i = 0; i < l->nidle; i++)
		sb_stemmer_delete(l->idle[i]);
	free(l->idle);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static const struct embedder_ops local_ops = {
    .embed = local_embed,
    .free = local_free,
};

/*
 * The hashing embedder for cfg (model cfg->embedding_model, cfg->embedding_dim
 * dimensions); borrows cfg. VERR_INVALID for a dimension below 1,
 * VERR_INTERNAL when libstemmer has no English stemmer. Free with
 * embedder_free().
 */
enum verr embed_hash_new(const struct config *cfg, struct embedder **out, struct verror *err)
{
	*out = NULL;
	if (cfg->embedding_dim < 1)
		return verr_set(err, VERR_INVALID, "EMBEDDING_DIM: must be at least 1");
	pthread_once(&stop_once, stop_init);

	struct sb_stemmer *s = sb_stemmer_new("english", "UTF_8");
	if (!s)
		return verr_set(err, VERR_INTERNAL, "libstemmer has no English stemmer");

	struct local *l = xcalloc(1, sizeof(*l));
	l->base.ops = &local_ops;
	l->base.model = cfg->embedding_model ? cfg->embedding_model : "local-hash-v1";
	l->base.dim = cfg->embedding_dim;
	l->base.max_batch = LOCAL_MAX_BATCH;
	l->base.local = true;
	pthread_mutex_init(&l->lock, NULL);
	stemmer_put(l, s);
	*out = &l->base;
	return VERR_OK;
}
