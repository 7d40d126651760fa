/*
 * rag.c - retrieval, a prompt within the token budget, and checked citations.
 */
#include "services/rag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/text.h"
#include "services/notes.h"
#include "services/search.h"

#define BYTES_PER_TOKEN   3 /* of ASCII text; see tokens() */
#define ANSWER_TOKENS_MAX 1024
#define SOURCE_MIN_TOKENS 60 /* a source shorter than this is not worth its header */

static const char system_prompt[] =
    "You answer questions using only the user's own notes, given below as numbered sources. "
    "Cite the sources you use with their numbers in square brackets, like [1] or [2], right "
    "after the statement they support. If the sources do not contain the answer, say plainly "
    "that the notes don't cover it. Never invent facts, sources or numbers.";

/* ------------------------------------------------------------ citations */

void cite_filter_init(struct cite_filter *f, int nsources, bool *cited, llm_delta_fn emit,
                      void *ctx)
{
	*f = (struct cite_filter){.nsources = nsources, .cited = cited, .emit = emit, .ctx = ctx};
}

/* Emits s[0..n), whole characters of valid UTF-8. */
static int emit_valid(struct cite_filter *f, const char *s, size_t n)
{
	if (n == 0 || f->stopped)
		return f->stopped;
	if (text_utf8_valid(s, n)) {
		f->stopped = f->emit(f->ctx, s, n);
		return f->stopped;
	}
	size_t len;
	char *clean = text_utf8_sanitize_n(s, n, &len);
	f->stopped = f->emit(f->ctx, clean, len);
	free(clean);
	return f->stopped;
}

/* Emits s[0..n); a character cut at its end waits in part[] for the rest. */
static int out(struct cite_filter *f, const char *s, size_t n)
{
	if (n == 0 || f->stopped)
		return f->stopped;
	char *joined = NULL;
	if (f->npart) { /* rare: only a piece that split a character */
		joined = xmalloc(f->npart + n);
		memcpy(joined, f->part, f->npart);
		memcpy(joined + f->npart, s, n);
		s = joined;
		n += f->npart;
		f->npart = 0;
	}
	size_t whole = text_utf8_whole(s, n);
	memcpy(f->part, s + whole, n - whole);
	f->npart = n - whole;
	emit_valid(f, s, whole);
	free(joined);
	return f->stopped;
}

static int flush_held(struct cite_filter *f)
{
	size_t n = f->nheld;
	f->nheld = 0;
	return out(f, f->held, n);
}

/*
 * A complete "[...]" is held: keep the valid numbers, each once, and drop
 * the rest. Each number kept takes at most its digits and ", ", so the
 * rewrite is at most three times the held text.
 */
static int close_marker(struct cite_filter *f)
{
	char kept[3 * sizeof(f->held)];
	size_t n = 0;
	int seen[sizeof(f->held)], nseen = 0;
	const char *p = f->held + 1;
	if (!strpbrk(p, "0123456789")) /* "[ ]": a checkbox, not a citation */
		return flush_held(f);
	while (*p && *p != ']') {
		while (*p == ' ' || *p == ',')
			p++;
		int v = 0;
		bool digits = false;
		while (*p >= '0' && *p <= '9') {
			if (v <=
			    f->nsources) /* past it, the number is invalid anyway: no overflow */
				v = v * 10 + (*p - '0');
			p++;
			digits = true;
		}
		bool again = false;
		for (int i = 0; i < nseen && !again; i++)
			again = seen[i] == v;
		if (digits && v >= 1 && v <= f->nsources && !again) {
			f->cited[v] = true;
			seen[nseen++] = v;
			n += (size_t)snprintf(kept + n, sizeof(kept) - n, "%s%d",
			                      nseen > 1 ? ", " : "[", v);
		}
		if (!digits && *p != ']')
			p++;
	}
	f->nheld = 0;
	if (!nseen)
		return f->stopped;
	kept[n++] = ']';
	return out(f, kept, n);
}

int cite_filter_feed(struct cite_filter *f, const char *text, size_t len)
{
	size_t plain = 0;            /* start of text not yet emitted */
	if (len == 0 && !f->stopped) /* asks whether anyone still waits (see llm_delta_fn) */
		f->stopped = f->emit(f->ctx, "", 0);
	size_t i = 0;
	while (i < len) {
		char c = text[i];
		if (f->nheld == 0) {
			/* "[" opens a citation only after a non-word character: not in arr[0]. */
			bool word_before = (f->prev >= 'a' && f->prev <= 'z') ||
			                   (f->prev >= 'A' && f->prev <= 'Z') ||
			                   (f->prev >= '0' && f->prev <= '9') || f->prev == '_';
			f->prev = c;
			i++;
			if (c != '[' || word_before)
				continue;
			if (out(f, text + plain, i - 1 - plain))
				return f->stopped;
			f->held[f->nheld++] = c;
			plain = i;
			continue;
		}
		bool marker_char = (c >= '0' && c <= '9') || c == ',' || c == ' ';
		if (c == ']' && f->nheld > 1) {
			f->held[f->nheld++] = c;
			f->held[f->nheld] = '\0';
			if (close_marker(f))
				return f->stopped;
			i++;
		} else if (marker_char && f->nheld < sizeof(f->held) - 2) {
			f->held[f->nheld++] = c;
			i++;
		} else if (flush_held(f)) { /* not a citation after all: let it through */
			return f->stopped;
		} /* and read c again as plain text, whatever its length */
		plain = i;
	}
	if (f->nheld == 0)
		return out(f, text + plain, len - plain);
	return f->stopped;
}

int cite_filter_flush(struct cite_filter *f)
{
	if (flush_held(f))
		return f->stopped;
	size_t n = f->npart; /* a character that never ended */
	f->npart = 0;
	return emit_valid(f, f->part, n);
}

/* ------------------------------------------------------------ prompt */

/*
 * Tokens are estimated at 3 ASCII bytes each (English runs nearer 4, so
 * this errs long) and one per other character (CJK text, emoji: often more
 * than one token per character's bytes / 3).
 */
static size_t tokens(const char *s, size_t n)
{
	size_t ascii = 0, other = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80)
			ascii++;
		else if ((c & 0xC0) != 0x80)
			other++;
	}
	return (ascii + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN + other;
}

/*
 * The longest prefix of s within max_tokens, cut back to a word boundary
 * (or a whole character when there is none): its length in bytes.
 */
static size_t fit(const char *s, size_t max_tokens)
{
	size_t n = strlen(s);
	if (tokens(s, n) <= max_tokens)
		return n;
	size_t lo = 0, hi = n; /* the longest prefix that fits lies in [lo, hi) */
	while (lo + 1 < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tokens(s, mid) <= max_tokens)
			lo = mid;
		else
			hi = mid;
	}
	size_t i = lo;
	while (i > 0 && s[i] != ' ' && s[i] != '\n')
		i--;
	if (i == 0)
		for (i = lo; i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80; i--)
			;
	return i;
}

/*
 * The user message: numbered sources, best first, as many as the budget
 * holds (the last one shortened if needed), then the question. Sets
 * *nsources to how many went in.
 */
static char *build_prompt(const struct config *cfg, const struct search_result *r,
                          const char *question, size_t *nsources)
{
	size_t reserve = (size_t)cfg->context_tokens / 4;
	if (reserve > ANSWER_TOKENS_MAX)
		reserve = ANSWER_TOKENS_MAX;
	size_t used = tokens(system_prompt, strlen(system_prompt)) +
	              tokens(question, strlen(question)) + 32 + reserve;
	size_t room = (size_t)cfg->context_tokens > used ? (size_t)cfg->context_tokens - used : 0;

	struct buf p; /* bounded by the token budget and the question's limit */
	buf_init(&p, BUF_NOCAP);
	buf_adds(&p, "Sources:\n\n");
	*nsources = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct search_hit *h = &r->hits[i];
		/* The section tells the model where in the note (a PDF's page) the passage is. */
		char *head = h->section && *h->section
		                 ? xasprintf("[%zu] %s (%s)\n", i + 1, h->note.title, h->section)
		                 : xasprintf("[%zu] %s\n", i + 1, h->note.title);
		size_t hn = strlen(head), head_tokens = tokens(head, hn) + 1;
		if (head_tokens + SOURCE_MIN_TOKENS > room && *nsources > 0) {
			free(head);
			break;
		}
		size_t body = fit(h->passage, room > head_tokens ? room - head_tokens : 0);
		buf_add(&p, head, hn);
		buf_add(&p, h->passage, body);
		buf_adds(&p, "\n\n");
		size_t spent = head_tokens + tokens(h->passage, body);
		room = room > spent ? room - spent : 0;
		(*nsources)++;
		free(head);
		if (room == 0)
			break;
	}
	buf_printf(&p, "Question: %s", question);
	return buf_steal(&p);
}

/* ------------------------------------------------------------ ask */

/* Bytes of the first max characters of UTF-8 s. */
static size_t utf8_prefix(const char *s, size_t max)
{
	size_t i = 0;
	for (size_t chars = 0; s[i] && chars < max; chars++)
		for (i++; ((unsigned char)s[i] & 0xC0) == 0x80; i++)
			;
	return i;
}

/*
 * The answer as the citation filter passes it on. The provider keeps at most
 * LLM_ANSWER_MAX bytes; the filter's rewrite of a marker ("[1,2]" to
 * "[1, 2]") lengthens it by less than half, so twice that is never reached
 * by an answer the provider accepted.
 */
#define COLLECT_MAX (2 * (size_t)LLM_ANSWER_MAX)

struct collect {
	struct buf text;
	bool too_long;
	llm_delta_fn next;
	void *next_ctx;
};

static int collect(void *ctx, const char *text, size_t len)
{
	struct collect *c = ctx;
	if (len == 0) /* a probe: nothing to keep, pass the question on */
		return c->next ? c->next(c->next_ctx, text, 0) : 0;
	if (buf_add(&c->text, text, len)) {
		c->too_long = true;
		return 1;
	}
	return c->next ? c->next(c->next_ctx, text, len) : 0;
}

static int through_filter(void *ctx, const char *text, size_t len)
{
	return cite_filter_feed(ctx, text, len);
}

enum verr rag_check(struct svc *svc, const struct ask_request *req, struct verror *err)
{
	size_t qlen = strlen(req->question);
	size_t chars =
	    text_utf8_valid(req->question, qlen) ? text_utf8_len(req->question, qlen) : 0;
	if (chars < 1 || chars > ASK_QUESTION_MAX || text_has_control(req->question, true))
		return verr_set(err, VERR_INVALID, "question: must be 1-%d characters of text",
		                ASK_QUESTION_MAX);
	bool word = false;
	for (const unsigned char *c = (const unsigned char *)req->question; *c && !word; c++)
		word = (*c >= '0' && *c <= '9') || ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z') ||
		       *c >= 0x80;
	if (!word)
		return verr_set(err, VERR_INVALID, "question: must contain a word");
	if (req->top_k < 1 || req->top_k > SEARCH_TOP_K_MAX)
		return verr_set(err, VERR_INVALID, "top_k: must be 1-%d", SEARCH_TOP_K_MAX);
	char **tags;
	size_t ntags;
	enum verr rc = notes_clean_tags(req->tags, req->ntags, "tag", &tags, &ntags, err);
	notes_tags_free(tags, ntags);
	if (rc)
		return rc;
	if (svc->cfg->llm_provider == LLM_NONE)
		return verr_set(err, VERR_AI_UNAVAILABLE,
		                "AI service unavailable: no LLM provider configured (set "
		                "LLM_PROVIDER=openai)");
	return VERR_OK;
}

enum verr rag_ask(struct svc *svc, int64_t user_id, const struct ask_request *req,
                  llm_delta_fn on_delta, void *ctx, struct ask_result *out, struct verror *err)
{
	struct search_result r = {0};
	char *prompt = NULL, *raw = NULL;
	bool *cited = NULL;
	struct collect col = {.next = on_delta, .next_ctx = ctx};
	enum verr rc;
	memset(out, 0, sizeof(*out));
	buf_init(&col.text, COLLECT_MAX);

	if ((rc = rag_check(svc, req, err)))
		return rc;

	/* Retrieval reads the first SEARCH_QUERY_MAX characters; the model gets all of it. */
	char *query = xstrndup(req->question, utf8_prefix(req->question, SEARCH_QUERY_MAX));
	struct search_query q = {.text = query,
	                         .top_k = req->top_k,
	                         .mode = SEARCH_HYBRID,
	                         .tags = req->tags,
	                         .ntags = req->ntags,
	                         .min_similarity = -1};
	rc = search_run(svc, user_id, &q, &r, err);
	free(query);
	if (rc)
		return rc;

	if (r.n == 0) {
		collect(&col, ASK_NOTHING_FOUND, strlen(ASK_NOTHING_FOUND));
		out->answer = buf_steal(&col.text);
		goto done;
	}

	size_t nsources;
	prompt = build_prompt(svc->cfg, &r, req->question, &nsources);
	struct llm_message msgs[] = {{"system", system_prompt}, {"user", prompt}};
	cited = xcalloc(nsources + 1, sizeof(bool));
	struct cite_filter f;
	cite_filter_init(&f, (int)nsources, cited, collect, &col);
	rc = llm_chat(svc->llm, msgs, 2, on_delta ? through_filter : NULL, &f, &raw, err);
	if (rc)
		goto done;
	if (!on_delta)
		cite_filter_feed(&f, raw, strlen(raw));
	cite_filter_flush(&f);
	if (col.too_long) {
		rc = verr_set(err, VERR_AI_UNAVAILABLE, "answer from provider too long");
		goto done;
	}
	out->answer = buf_steal(&col.text);
	out->model = svc->llm->model;

	for (size_t i = 1; i <= nsources; i++)
		if (cited[i])
			out->ncitations++;
	out->citations = xcalloc(out->ncitations ? out->ncitations : 1, sizeof(struct citation));
	for (size_t i = 1, k = 0; i <= nsources; i++) {
		if (!cited[i])
			continue;
		const struct search_hit *h = &r.hits[i - 1];
		out->citations[k++] =
		    (struct citation){(int)i, h->note.id, xstrdup(h->note.title),
		                      xstrdup(h->excerpt), xstrdup(h->section ? h->section : "")};
	}
done:
	if (rc) {
		buf_free(&col.text);
		ask_result_free(out);
	}
	free(cited);
	free(prompt);
	free(raw);
	search_result_free(&r);
	return rc;
}

void ask_result_free(struct ask_result *r)
{
	if (!r)
		return;
	free(r->answer);
	for (size_t i = 0; i < r->ncitations; i++) {
		free(r->citations[i].title);
		free(r->citations[i].excerpt);
		free(r->citations[i].section);
	}
	free(r->citations);
	memset(r, 0, sizeof(*r));
}
