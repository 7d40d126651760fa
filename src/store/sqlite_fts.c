/*
 * sqlite_fts.c - a keyword index per user inside one FTS5 table: the
 * tokenizer that gives every user posting lists of their own, and BM25 on
 * the user's own statistics.
 *
 * Why: with one plain FTS5 table for everyone, bm25() takes the number of
 * documents, their average length and each term's document frequency from
 * all users, so the order of a user's results said whether their words
 * occurred in other users' notes; and a query read every user's postings of
 * its terms, then dropped the foreign rows, so one user's search slowed
 * down with everyone else's volume (bench/isolation.sh: 967 req/s with the
 * other user at 0 notes, 98 at 50,000).
 *
 * How: the tokenizer "vault" wraps porter/unicode61 (the same stemming and
 * folding as before) and turns each token t of user 42 into "42\x1Ft". A
 * user's term is therefore a key of its own in the FTS5 index: a MATCH for
 * user 42 reads only user 42's postings, and the document frequencies FTS5
 * counts for a phrase (xQueryPhrase) are that user's. The owner comes with
 * the text, as a marker opening every indexed value and every phrase of a
 * query (SQLITE_FTS_OWNER), since FTS5 before 3.47 hands a tokenizer
 * nothing else; the marker yields no token, so positions and lengths are
 * those of the text. vault_bm25 is FTS5's BM25 (k1 1.2, b 0.75, the same
 * column weights, an IDF of 1e-6 where it would be negative) with the
 * collection figures taken from the user's row of keyword_stats instead of
 * the table: the scores are exactly those of an FTS5 table holding only
 * that user's notes (tests/unit/test_store_sqlite.c checks this).
 * keyword_stats is kept in the note's transaction by store_sqlite.c (insert,
 * replace) and the delete trigger, with vault_doclen reading a row's length
 * from FTS5's own docsize record.
 *
 * Rejected, measured on this machine: a table per user (exact, but 6 schema
 * entries per user, and every connection re-parses the whole schema on open
 * and after any user's table is created: 68 ms at 1,000 users, 21 MB of
 * empty pages); an inverted index of our own in ordinary tables (what FTS5
 * does well, written again, positions for phrases included). Cost of this
 * one: every connection touching notes_fts must register the tokenizer, so
 * the sqlite3 shell can read notes but cannot delete them (the trigger
 * fails, changing nothing).
 */
#include "store/sqlite_fts.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

#define US        '\x1f' /* the marker's delimiter, never part of a token */
#define ID_MAX    19     /* digits of an int64 id */
#define BM25_K1   1.2
#define BM25_B    0.75
#define IDF_FLOOR 1e-6

/* ---------------------------------------------------------------- tokenizer */

struct owner_tokenizer {
	fts5_tokenizer inner; /* the wrapped tokenizer's methods */
	Fts5Tokenizer *tok;   /* and its instance */
};

/* One xTokenize call: forwards each inner token with the owner's prefix. */
struct prefixing {
	void *ctx;
	int (*emit)(void *ctx, int flags, const char *token, int n, int start, int end);
	struct buf b; /* "<id>\x1F" then the token, at most INT_MAX bytes */
	size_t prefix;
	int shift; /* the marker's length: offsets are into the whole value */
};

/* azArg: the wrapped tokenizer's name, then its arguments. */
static int tok_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
	fts5_api *api = ctx;
	void *inner_ctx = NULL;
	fts5_tokenizer inner;
	if (argc < 1)
		return SQLITE_ERROR;
	int rc = api->xFindTokenizer(api, argv[0], &inner_ctx, &inner);
	if (rc != SQLITE_OK)
		return rc;
	struct owner_tokenizer *t = xcalloc(1, sizeof(*t));
	t->inner = inner;
	if ((rc = inner.xCreate(inner_ctx, argv + 1, argc - 1, &t->tok)) != SQLITE_OK) {
		free(t);
		return rc;
	}
	*out = (Fts5Tokenizer *)t;
	return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *p)
{
	struct owner_tokenizer *t = (struct owner_tokenizer *)p;
	t->inner.xDelete(t->tok);
	free(t);
}

static int prefixed(void *p, int flags, const char *token, int n, int start, int end)
{
	struct prefixing *x = p;
	x->b.len = x->prefix; /* the previous token goes, the owner's prefix stays */
	if (buf_add(&x->b, token, (size_t)n))
		return SQLITE_TOOBIG;
	return x->emit(x->ctx, flags, x->b.p, (int)x->b.len, start + x->shift, end + x->shift);
}

/*
 * A value or phrase must open with the owner's marker: one without it is a
 * bug or a query from outside vault, and gets an error rather than tokens
 * that belong to nobody. An empty value has no tokens.
 */
static int tok_tokenize(Fts5Tokenizer *p, void *ctx, int flags, const char *text, int n,
                        int (*emit)(void *, int, const char *, int, int, int))
{
	struct owner_tokenizer *t = (struct owner_tokenizer *)p;
	if (n == 0)
		return SQLITE_OK;
	int close = 1; /* where the marker's closing US is */
	while (close < n && close <= ID_MAX && text[close] >= '0' && text[close] <= '9')
		close++;
	if (text[0] != US || close == 1 || close == n || text[close] != US)
		return SQLITE_ERROR;

	/* The prefix is the digits and the closing US. */
	struct prefixing x = {
	    .ctx = ctx, .emit = emit, .prefix = (size_t)close, .shift = close + 1};
	buf_init(&x.b, INT_MAX);
	buf_add(&x.b, text + 1, x.prefix);
	int rc = t->inner.xTokenize(t->tok, &x, flags, text + x.shift, n - x.shift, prefixed);
	buf_free(&x.b);
	return rc;
}

/* ---------------------------------------------------------------- ranking */

/*
 * Rows a query keeps (its LIMIT) up to which vault_bm25 prunes; past it, or
 * at 0, every row is scored exactly.
 */
#define BM25_KEEP_MAX 4096

/* What one MATCH needs for every row: computed at its first row. */
struct bm25_query {
	int nphrase;
	double avgdl;
	double *idf;  /* per phrase */
	double *freq; /* per phrase, the current row's weighted count */
	/* The best exact scores so far, a min-heap of at most keep (0: no pruning). */
	double *best;
	size_t nbest, keep;
	/* notes_fts_docsize.sz, moved from row to row (row_length), else NULL */
	sqlite3_blob *sizes;
};

static void bm25_query_free(void *p)
{
	struct bm25_query *q = p;
	if (!q)
		return;
	sqlite3_blob_close(q->sizes);
	free(q->idf);
	free(q->freq);
	free(q->best);
	free(q);
}

static int count_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *n)
{
	(void)api;
	(void)fts;
	(*(sqlite3_int64 *)n)++;
	return SQLITE_OK;
}

/*
 * The IDF of each phrase among the user's documents: their postings are
 * the user's alone, so xQueryPhrase counts the user's matching notes. docs
 * and tokens are the user's totals from keyword_stats.
 */
static int bm25_prepare(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_int64 docs,
                        sqlite3_int64 tokens, sqlite3_int64 keep, sqlite3_value **weights,
                        int nweights, struct bm25_query **out)
{
	for (int i = 0; i < nweights; i++)
		if (sqlite3_value_double(weights[i]) < 0)
			keep = 0; /* a score that can rise with the length has no bound at 0 */
	struct bm25_query *q = xcalloc(1, sizeof(*q));
	q->nphrase = api->xPhraseCount(fts);
	q->idf = xcalloc((size_t)q->nphrase + 1, sizeof(double));
	q->freq = xcalloc((size_t)q->nphrase + 1, sizeof(double));
	if (keep > 0 && keep <= BM25_KEEP_MAX) {
		q->keep = (size_t)keep;
		q->best = xmalloc(q->keep * sizeof(double));
	}
	int rc = SQLITE_OK;
	for (int i = 0; i < q->nphrase && rc == SQLITE_OK; i++) {
		sqlite3_int64 hits = 0;
		rc = api->xQueryPhrase(fts, i, &hits, count_row);
		if (docs < hits) /* never, while keyword_stats is kept right */
			docs = hits;
		double idf = log(((double)(docs - hits) + 0.5) / ((double)hits + 0.5));
		q->idf[i] = idf > 0 ? idf : IDF_FLOOR;
	}
	q->avgdl = docs > 0 && tokens > 0 ? (double)tokens / (double)docs : 1.0;
	if (rc == SQLITE_OK)
		rc = api->xSetAuxdata(fts, q, bm25_query_free); /* frees q on failure */
	else
		bm25_query_free(q);
	*out = rc == SQLITE_OK ? q : NULL;
	return rc;
}

/*
 * The tokens of a row, all columns, and its columns, from its sz in
 * notes_fts_docsize: one varint per column (SQLite's encoding: big-endian
 * groups of 7 bits, high bit set on all but the last, a ninth byte of 8).
 * False if truncated or past INT_MAX tokens.
 */
static bool sizes_total(const unsigned char *p, int n, sqlite3_int64 *total, int *ncols)
{
	*total = 0;
	*ncols = 0;
	for (int i = 0; i < n;) {
		uint64_t v = 0;
		for (int k = 0;; k++) {
			if (i == n)
				return false;
			unsigned char byte = p[i++];
			if (k == 8) {
				v = v << 8 | byte;
				break;
			}
			v = v << 7 | (byte & 0x7f);
			if (!(byte & 0x80))
				break;
		}
		if (v > (uint64_t)(INT_MAX - *total))
			return false;
		*total += (sqlite3_int64)v;
		(*ncols)++;
	}
	return true;
}

/*
 * The row's length, as xColumnSize(-1) gives it, read through a blob
 * handle on its notes_fts_docsize record. FTS5 runs a statement for each
 * xColumnSize (bind, step, reset: 3.7k instructions a row); moving a blob
 * handle from row to row costs a fraction of that. Falls back on
 * xColumnSize where the handle cannot be had.
 */
static int row_length(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                      struct bm25_query *q, int *dl)
{
	sqlite3_int64 rowid = api->xRowid(fts), total;
	unsigned char sz[64]; /* 4 columns of at most 9 bytes */
	int ncols;
	int rc = q->sizes ? sqlite3_blob_reopen(q->sizes, rowid)
	                  : sqlite3_blob_open(sqlite3_context_db_handle(ctx), "main",
	                                      "notes_fts_docsize", "sz", rowid, 0, &q->sizes);
	int n = rc == SQLITE_OK ? sqlite3_blob_bytes(q->sizes) : 0;
	if (rc == SQLITE_OK && n <= (int)sizeof(sz) &&
	    sqlite3_blob_read(q->sizes, sz, n, 0) == SQLITE_OK &&
	    sizes_total(sz, n, &total, &ncols) && ncols == api->xColumnCount(fts)) {
		*dl = (int)total;
		return SQLITE_OK;
	}
	return api->xColumnSize(fts, -1, dl);
}

/* The row's BM25 from q->freq, for a length normalisation of norm. */
static double bm25_score(const struct bm25_query *q, double norm)
{
	double score = 0;
	for (int i = 0; i < q->nphrase; i++)
		score += q->idf[i] * q->freq[i] * (BM25_K1 + 1) / (q->freq[i] + norm);
	return score;
}

/* Adds an exact score to q->best, which keeps the q->keep highest. */
static void best_add(struct bm25_query *q, double score)
{
	double *h = q->best;
	size_t i;
	if (q->nbest < q->keep) {
		for (i = q->nbest++; i > 0 && h[(i - 1) / 2] > score; i = (i - 1) / 2)
			h[i] = h[(i - 1) / 2];
		h[i] = score;
		return;
	}
	if (score <= h[0])
		return;
	for (i = 0;;) { /* replace the lowest, then sift it down */
		size_t c = 2 * i + 1;
		if (c >= q->nbest)
			break;
		if (c + 1 < q->nbest && h[c + 1] < h[c])
			c++;
		if (h[c] >= score)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = score;
}

/*
 * vault_bm25(notes_fts, docs, tokens, keep, weight of column 0, 1, ...):
 * the row's BM25 on the user's statistics, negated as FTS5's bm25() is
 * (lower is better). A missing weight is 1.
 *
 * keep is the number of best rows the query keeps (its LIMIT). Reading a
 * row's length is most of the cost of scoring it (FTS5 looks it up in
 * notes_fts_docsize: at 100k chunks, 9 of a keyword query's 14 ms), so a
 * row is first scored at length 0, an upper bound of its score (every term
 * falls with the length, and IEEE arithmetic keeps that order; with a
 * negative weight one would rise, and nothing is pruned). Once keep
 * rows have exact scores, a row whose bound is below the lowest of the
 * best keep returns its bound: it cannot be among them, its exact score
 * being lower still, and it sorts below every one of them. Every row that
 * can be in the result is scored exactly, so the result and its order are
 * those of scoring every row. (SQLite calls it once a row: a row scored
 * twice would sit in q->best twice and raise the bar.)
 */
static void bm25_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                    sqlite3_value **val)
{
	struct bm25_query *q = api->xGetAuxdata(fts, 0);
	int rc = SQLITE_OK, ninst = 0, dl = 0;
	if (nval < 3) {
		sqlite3_result_error(ctx, "vault_bm25: needs docs, tokens and keep", -1);
		return;
	}
	if (!q)
		rc =
		    bm25_prepare(api, fts, sqlite3_value_int64(val[0]), sqlite3_value_int64(val[1]),
		                 sqlite3_value_int64(val[2]), val + 3, nval - 3, &q);
	if (rc == SQLITE_OK)
		rc = api->xInstCount(fts, &ninst);
	if (rc == SQLITE_OK) {
		memset(q->freq, 0, (size_t)q->nphrase * sizeof(double));
		for (int i = 0; i < ninst && rc == SQLITE_OK; i++) {
			int phrase, col, off;
			rc = api->xInst(fts, i, &phrase, &col, &off);
			if (rc == SQLITE_OK && phrase >= 0 && phrase < q->nphrase)
				q->freq[phrase] +=
				    col + 3 < nval ? sqlite3_value_double(val[col + 3]) : 1.0;
		}
	}
	double score = 0;
	if (rc == SQLITE_OK)
		score = bm25_score(q, BM25_K1 * (1 - BM25_B));
	if (rc == SQLITE_OK && !(q->keep && q->nbest == q->keep && score < q->best[0])) {
		rc = row_length(api, fts, ctx, q, &dl);
		if (rc == SQLITE_OK) {
			score = bm25_score(q, BM25_K1 * (1 - BM25_B + BM25_B * dl / q->avgdl));
			if (q->keep)
				best_add(q, score);
		}
	}
	if (rc != SQLITE_OK) {
		sqlite3_result_error_code(ctx, rc);
		return;
	}
	sqlite3_result_double(ctx, -score);
}

/* vault_doclen(sz): the tokens of a row from its sz in notes_fts_docsize. */
static void doclen_fn(sqlite3_context *ctx, int nval, sqlite3_value **val)
{
	(void)nval;
	sqlite3_int64 total;
	int ncols;
	if (!sizes_total(sqlite3_value_blob(val[0]), sqlite3_value_bytes(val[0]), &total, &ncols)) {
		sqlite3_result_error(ctx, "vault_doclen: a truncated or impossible size", -1);
		return;
	}
	sqlite3_result_int64(ctx, total);
}

/* ---------------------------------------------------------------- registration */

static fts5_api *fts5_api_of(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return api;
}

int sqlite_fts_register(sqlite3 *db)
{
	static fts5_tokenizer owner = {tok_create, tok_delete, tok_tokenize};
	fts5_api *api = fts5_api_of(db);
	if (!api)
		return SQLITE_ERROR; /* SQLite built without FTS5 */
	int rc = api->xCreateTokenizer(api, "vault", api, &owner, NULL);
	if (rc == SQLITE_OK)
		rc = api->xCreateFunction(api, "vault_bm25", NULL, bm25_fn, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "vault_doclen", 1,
		                             SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
		                             NULL, doclen_fn, NULL, NULL);
	return rc;
}

/* ---------------------------------------------------------------- queries */

/* Appends term without its double quotes. */
static void add_term(struct buf *b, const char *term)
{
	for (const char *t = term; *t; t++)
		if (*t != '"')
			buf_add(b, t, 1);
}

char *sqlite_fts_match(int64_t user_id, const char *const *terms, size_t nterms, bool phrase)
{
	struct buf b;
	char owner[32]; /* the opening quote and the marker */
	snprintf(owner, sizeof(owner), "\"%c%lld%c", US, (long long)user_id, US);
	buf_init(&b, BUF_NOCAP);
	buf_add(&b, "", 0);
	if (phrase) {
		buf_adds(&b, "{title tags} : ");
		buf_adds(&b, owner);
		for (size_t i = 0; i < nterms; i++) {
			if (i)
				buf_adds(&b, " ");
			add_term(&b, terms[i]);
		}
		buf_adds(&b, "\"");
	} else {
		for (size_t i = 0; i < nterms; i++) {
			if (i)
				buf_adds(&b, " OR ");
			buf_adds(&b, owner);
			add_term(&b, terms[i]);
			buf_adds(&b, "\"");
		}
	}
	return buf_steal(&b);
}
