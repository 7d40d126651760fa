/*
 * import.c - a folder of Markdown files into a user's notes (see import.h).
 *
 * One run: read every file (checks, hash, front matter, title, tags),
 * plan against what the last run left (vaultdir_plan over the store's
 * list of sources), resolve every link once over all paths, then write
 * the changes through the notes service (so chunks, embedding and the
 * queue are what any other write makes) and last the links that differ
 * from the stored ones.
 */
#include "services/import.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/text.h"
#include "services/notes.h"
#include "services/obsidian.h"
#include "services/pdf.h"
#include "services/unzip.h"
#include "services/vaultdir.h"

/* Embeds expanded into one note's indexed text at most (cycles aside, a fan-out bound). */
#define EMBEDS_MAX 1000

/* A link of a file, resolved: to is an index in the run's paths, or -1. */
struct ilink {
	const char *target; /* the doc's */
	long to;
	bool embed;
};

/* One file as read, and what became of it. */
struct item {
	const struct import_file *f;
	char hash[SHA256_HEX_LEN];
	char *error;   /* why it cannot be a note; NULL if it can */
	char *warning; /* what was wrong but did not stop it */
	bool md;
	bool title_from_name;
	bool dirty;  /* its bytes are new in this run (added or updated) */
	bool failed; /* its note (if any) was left as it was: so are its links */
	struct obsidian_doc doc;
	const char *content; /* in f->data */
	char *title;
	char **tags;
	size_t ntags;
	struct ilink *links;
	size_t nlinks;
	int64_t note_id; /* its note once known; 0 for none */
};

/* The run. */
struct ctx {
	struct svc *svc;
	int64_t user_id;
	const struct import_opts *opts;
	struct item *items;
	size_t n;
	const char **paths; /* the items' paths, then the kept notes' */
	int64_t *path_note; /* each path's note id */
	size_t npaths;
	struct import_report *out;
	size_t embed_left; /* opts->embed_bytes_max not yet spent */
};

const char *import_outcome_name(enum import_outcome o)
{
	static const char *const names[] = {"added",   "updated", "unchanged", "renamed",
	                                    "deleted", "kept",    "failed"};
	return names[o];
}

void import_report_free(struct import_report *r)
{
	for (size_t i = 0; r && i < r->nmsgs; i++) {
		free(r->msgs[i].path);
		free(r->msgs[i].from);
		free(r->msgs[i].text);
	}
	if (r) {
		free(r->msgs);
		memset(r, 0, sizeof(*r));
	}
}

/* Counts the outcome and keeps a message for it; text and from may be NULL. */
static void report(struct import_report *r, const char *path, const char *from,
                   enum import_outcome o, const char *text)
{
	size_t *counts[] = {&r->added,   &r->updated, &r->unchanged, &r->renamed,
	                    &r->deleted, &r->kept,    &r->failed};
	(*counts[o])++;
	if (o == IMPORT_UNCHANGED && !text)
		return;
	if ((r->nmsgs & (r->nmsgs - 1)) == 0)
		r->msgs = xrealloc(r->msgs, (r->nmsgs ? 2 * r->nmsgs : 1) * sizeof(*r->msgs));
	r->msgs[r->nmsgs++] = (struct import_message){xstrdup(path), from ? xstrdup(from) : NULL,
	                                              text && *text ? xstrdup(text) : NULL, o};
}

/* Appends a sentence to *w ("; " between). */
static void warn(char **w, const char *fmt, const char *arg)
{
	char *s = xasprintf(fmt, arg);
	char *joined = *w ? xasprintf("%s; %s", *w, s) : xstrdup(s);
	free(*w);
	free(s);
	*w = joined;
}

/* ---------------------------------------------------------------- reading */

/* Why path cannot name a file of the folder, or NULL. */
static const char *bad_path(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > IMPORT_PATH_MAX)
		return "the path is empty or too long";
	if (!text_utf8_valid(p, n) || text_has_control(p, false))
		return "the path is not UTF-8 text";
	if (p[0] == '/')
		return "the path is absolute";
	for (const char *s = p; *s;) {
		size_t len = strcspn(s, "/");
		if (len == 0 || (len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return "the path has an empty, . or .. part";
		s += len + (s[len] == '/');
	}
	return NULL;
}

/* The file's name without its folder and extension ("a/Note.md" -> "Note"); caller frees. */
static char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	const char *dot = strrchr(name, '.');
	return xstrndup(name, dot && dot > name ? (size_t)(dot - name) : strlen(name));
}

/* s as a title: controls become spaces, trimmed, at most NOTE_TITLE_MAX characters (caller frees).
 */
static char *tidy(const char *s)
{
	char *t = xstrdup(s);
	for (unsigned char *p = (unsigned char *)t; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
		else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
			p[0] = ' ', p[1] = ' ';
	}
	char *trimmed = text_trim(t);
	free(t);
	size_t bytes = 0, chars = 0;
	while (trimmed[bytes] && chars < NOTE_TITLE_MAX) {
		bytes++;
		while ((trimmed[bytes] & 0xC0) == 0x80)
			bytes++;
		chars++;
	}
	trimmed[bytes] = '\0';
	return trimmed;
}

/* The title: the doc's if it has one left after tidy(), else the file's name, else "Untitled". */
static char *clean_title(const char *title, const char *path)
{
	char *t = tidy(title);
	if (!*t) {
		char *name = base_name(path);
		free(t);
		t = tidy(name);
		free(name);
	}
	return *t ? t : (free(t), xstrdup("Untitled"));
}

/* The doc's tags the notes service takes (trimmed, 1-64 characters, at most 32); warns of the rest.
 */
static void clean_tags(struct item *it)
{
	it->tags = xcalloc(it->doc.ntags + 1, sizeof(char *));
	for (size_t i = 0; i < it->doc.ntags; i++) {
		char *t = text_trim(it->doc.tags[i]);
		size_t chars = text_utf8_len(t, strlen(t));
		bool dup = false;
		for (size_t k = 0; k < it->ntags && !dup; k++)
			dup = strcmp(it->tags[k], t) == 0;
		if (dup) {
			free(t);
		} else if (chars < 1 || chars > NOTE_TAG_MAX || text_has_control(t, false)) {
			warn(&it->warning, "tag \"%s\" left out (1-64 characters, no controls)", t);
			free(t);
		} else if (it->ntags == NOTE_TAGS_MAX) {
			warn(&it->warning, "tag \"%s\" and after left out (at most 32 tags)", t);
			free(t);
			break;
		} else {
			it->tags[it->ntags++] = t;
		}
	}
	if (it->doc.tags_over)
		warn(&it->warning, "%s", "too many tags: the rest left out");
}

/* Whether a link's target is a file that is not a note (an image, a PDF...). */
static bool attachment(const char *target)
{
	static const char *const exts[] = {
	    "png",  "jpg",  "jpeg", "gif", "bmp", "svg", "webp", "avif",   "tif",        "tiff",
	    "ico",  "heic", "pdf",  "mp3", "wav", "m4a", "ogg",  "oga",    "flac",       "3gp",
	    "webm", "mp4",  "mov",  "mkv", "ogv", "zip", "csv",  "canvas", "excalidraw", NULL};
	const char *slash = strrchr(target, '/'), *name = slash ? slash + 1 : target;
	const char *dot = strrchr(name, '.');
	for (const char *const *e = exts; dot && *e; e++)
		if (strcasecmp(dot + 1, *e) == 0)
			return true;
	return false;
}

/* Reads one file: its checks, hash, front matter, title and tags. */
static void read_item(struct item *it, const struct import_file *f)
{
	const char *why = bad_path(f->path);
	it->f = f;
	sha256_hex_n(f->data, f->len, it->hash);
	size_t dot = strlen(f->path) > 3 ? strlen(f->path) - 3 : 0;
	it->md = strcasecmp(f->path + dot, ".md") == 0;
	if (why || f->error) {
		it->error = xstrdup(why ? why : f->error);
		return;
	}
	if (memchr(f->data, '\0', f->len)) {
		it->error = xstrdup("the file holds NUL bytes: not a text file");
		return;
	}
	if (!text_utf8_valid(f->data, f->len)) {
		it->error = xstrdup("the file is not UTF-8 text");
		return;
	}
	/* As the notes service would refuse it, but before the plan: a file that
	 * cannot be written is no change for the notes that embed it. */
	if (text_has_control(f->data, true)) {
		it->error =
		    xstrdup("the file holds control characters other than tab and newlines");
		return;
	}
	const char *text = f->data;
	size_t len = f->len;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a byte order mark */
		text += 3, len -= 3;
	if (it->md) {
		obsidian_parse(text, len, &it->doc);
		if (it->doc.warning[0])
			warn(&it->warning, "front matter: %s", it->doc.warning);
		if (it->doc.links_over)
			warn(&it->warning, "%s", "too many links: the rest left out");
		text += it->doc.body;
		len -= it->doc.body;
		clean_tags(it);
	} else {
		it->tags = xcalloc(1, sizeof(char *));
	}
	it->content = text;
	if (len > NOTE_CONTENT_MAX) {
		it->error = xasprintf("the text is over %d bytes (1 MiB)", NOTE_CONTENT_MAX);
		return;
	}
	it->title_from_name = !it->doc.title;
	it->title = clean_title(it->doc.title ? it->doc.title : "", f->path);
	it->title_from_name = it->title_from_name || strcmp(it->title, it->doc.title) != 0;
}

static void item_cleanup(struct item *it)
{
	free(it->error);
	free(it->warning);
	obsidian_doc_free(&it->doc);
	free(it->title);
	for (size_t i = 0; i < it->ntags; i++)
		free(it->tags[i]);
	free(it->tags);
	free(it->links);
}

/* The item's links, resolved over the run's paths: attachments and "[[#Heading]]" left out,
 * each (target, kind) once. */
static void resolve_links(struct vaultdir_index *ix, struct item *it)
{
	it->links = xcalloc(it->doc.nlinks + 1, sizeof(*it->links));
	for (size_t i = 0; i < it->doc.nlinks; i++) {
		const struct obsidian_link *l = &it->doc.links[i];
		if (!*l->target || attachment(l->target))
			continue;
		bool dup = false;
		for (size_t k = 0; k < it->nlinks && !dup; k++)
			dup = it->links[k].embed == l->embed &&
			      strcmp(it->links[k].target, l->target) == 0;
		if (dup)
			continue;
		it->links[it->nlinks++] = (struct ilink){
		    l->target, vaultdir_resolve(ix, l->target, it->f->path), l->embed};
	}
}

/* ---------------------------------------------------------------- embeds */

/*
 * Appends the notes item i embeds, and theirs, to b: depth levels so far
 * on stack[0..depth]; none already on the stack (a cycle), none past
 * IMPORT_EMBED_DEPTH or b's cap (then *budget is -1) or *budget. Sets
 * *dirty if one of them is new in this run.
 */
static void expand(struct ctx *x, size_t i, int depth, size_t *stack, struct buf *b, int *budget,
                   bool *dirty)
{
	const struct item *it = &x->items[i];
	stack[depth] = i;
	for (size_t k = 0; k<it->nlinks && * budget> 0; k++) {
		const struct ilink *l = &it->links[k];
		if (!l->embed || l->to < 0 || (size_t)l->to >= x->n || x->items[l->to].error)
			continue;
		size_t j = (size_t)l->to;
		bool cycle = false;
		for (int d = 0; d <= depth && !cycle; d++)
			cycle = stack[d] == j;
		if (cycle)
			continue;
		(*budget)--;
		*dirty = *dirty || x->items[j].dirty;
		if (buf_adds(b, "\n\n") || buf_adds(b, x->items[j].content)) {
			*budget = -1; /* the cap: nothing more fits */
			return;
		}
		if (depth + 1 < IMPORT_EMBED_DEPTH)
			expand(x, j, depth + 1, stack, b, budget, dirty);
	}
}

/* The text to index for item i (caller frees), or NULL when it embeds nothing. */
static char *index_text(struct ctx *x, size_t i, bool *dirty)
{
	size_t stack[IMPORT_EMBED_DEPTH + 1];
	int budget = EMBEDS_MAX;
	struct buf b;
	*dirty = false;
	size_t len = strlen(x->items[i].content), cap = NOTE_INDEX_MAX;
	if (x->opts->embed_bytes_max && len + x->embed_left < cap)
		cap = len + x->embed_left;
	buf_init(&b, cap);
	buf_adds(&b, x->items[i].content);
	size_t base = b.len;
	expand(x, i, 0, stack, &b, &budget, dirty);
	if (x->opts->embed_bytes_max) {
		x->embed_left -= b.len - base;
		if (budget < 0 && cap < NOTE_INDEX_MAX)
			warn(&x->items[i].warning, "%s",
			     "embeds left out of the indexed text: the run's budget is spent");
	}
	if (b.len == base) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* ---------------------------------------------------------------- writing */

/* Whether a store failure ends the run rather than the file. */
static bool fatal(enum verr rc)
{
	return rc == VERR_UNAVAILABLE || rc == VERR_STORAGE_FULL || rc == VERR_INTERNAL;
}

/* Writes item i's note: a new one (id 0) or over note id. */
static enum verr write_note(struct ctx *x, size_t i, int64_t id, const char *indexed,
                            struct verror *err)
{
	struct item *it = &x->items[i];
	int64_t updated = it->doc.updated_ms ? it->doc.updated_ms : it->f->mtime_ms;
	int64_t created = it->doc.created_ms;
	if (created && updated && updated < created)
		updated = created;
	if (!created && !id)
		created = updated; /* a new note without a date: the file's */
	struct note_fields f = {
	    .title = it->title,
	    .content = it->content,
	    .tags = (const char *const *)it->tags,
	    .ntags = it->ntags,
	    .has_tags = true,
	    .created_at = created,
	    .updated_at = updated,
	    .source_path = it->f->path,
	    .source_hash = it->hash,
	    .aliases = (const char *const *)it->doc.aliases,
	    .naliases = it->doc.naliases,
	    .index_text = indexed,
	};
	struct note n = {0}; /* untouched when the notes service refuses the fields */
	enum verr rc = id ? notes_update(x->svc, x->user_id, id, &f, &n, err)
	                  : notes_create(x->svc, x->user_id, &f, &n, err);
	if (rc == VERR_OK)
		it->note_id = n.id;
	note_free(&n);
	return rc;
}

/* Applies one change of the plan; VERR_OK unless the store failed for good. */
static enum verr apply(struct ctx *x, const struct vaultdir_change *c,
                       const struct vaultdir_file *now, struct verror *err)
{
	bool dry = x->opts->dry_run;
	enum verr rc = VERR_OK;
	struct verror ferr = {0};

	if (c->action == VAULTDIR_DELETE) {
		enum import_outcome o = x->opts->prune ? IMPORT_DELETED : IMPORT_KEPT;
		if (o == IMPORT_DELETED && !dry)
			rc = notes_delete(x->svc, x->user_id, c->before->note_id, &ferr);
		if (rc == VERR_NOT_FOUND) /* deleted meanwhile */
			rc = VERR_OK;
		if (rc == VERR_OK)
			report(x->out, c->before->path, NULL, o,
			       o == IMPORT_KEPT ? "its file is gone (--prune deletes the note)"
			                        : NULL);
		goto out;
	}
	size_t i = (size_t)(c->now - now);
	struct item *it = &x->items[i];
	int64_t id = c->before ? c->before->note_id : 0;
	it->note_id = id;
	if (it->error) {
		it->failed = true;
		report(x->out, it->f->path, NULL, IMPORT_FAILED, it->error);
		return VERR_OK;
	}
	bool dirty;
	char *indexed = index_text(x, i, &dirty);
	enum import_outcome o = c->action == VAULTDIR_ADD      ? IMPORT_ADDED
	                        : c->action == VAULTDIR_UPDATE ? IMPORT_UPDATED
	                        : c->action == VAULTDIR_RENAME ? IMPORT_RENAMED
	                                                       : IMPORT_UNCHANGED;
	const char *text = it->warning;
	char *why = NULL;
	if (o == IMPORT_UNCHANGED && dirty) {
		o = IMPORT_UPDATED; /* its text is the same, what it embeds is not */
		why = it->warning
		          ? xasprintf("re-indexed: a note it embeds changed; %s", it->warning)
		          : xstrdup("re-indexed: a note it embeds changed");
		text = why;
	}
	if (!dry) {
		if (o == IMPORT_ADDED || o == IMPORT_UPDATED ||
		    (o == IMPORT_RENAMED && it->title_from_name))
			rc = write_note(x, i, id, indexed, &ferr);
		else if (o == IMPORT_RENAMED) /* the same bytes and title: only the path moves */
			rc = store_note_set_source(x->svc->store, x->user_id, id, it->f->path,
			                           it->hash, &ferr);
	}
	if (rc == VERR_OK)
		report(x->out, it->f->path, o == IMPORT_RENAMED ? c->before->path : NULL, o, text);
	else
		it->failed = true;
	free(indexed);
	free(why);
out:
	if (rc && !fatal(rc)) {
		report(x->out, c->now ? c->now->path : c->before->path, NULL, IMPORT_FAILED,
		       verr_detail(&ferr));
		rc = VERR_OK;
	} else if (rc) {
		*err = ferr;
	}
	return rc;
}

/* ---------------------------------------------------------------- links */

static int by_from(const void *key, const void *elem)
{
	int64_t k = *(const int64_t *)key, v = ((const struct note_link *)elem)->from_note;
	return (k > v) - (k < v);
}

/* Writes the links of every note of the run that differ from the stored ones. */
static enum verr put_links(struct ctx *x, struct verror *err)
{
	struct note_link *stored = NULL;
	size_t nstored = 0;
	struct note_link_input *want = NULL;
	enum verr rc = store_user_links(x->svc->store, x->user_id, &stored, &nstored, err);
	for (size_t i = 0; rc == VERR_OK && i < x->n; i++) {
		const struct item *it = &x->items[i];
		if (!it->note_id || it->failed)
			continue;
		want = xrealloc(want, (it->nlinks + 1) * sizeof(*want));
		for (size_t k = 0; k < it->nlinks; k++)
			want[k] = (struct note_link_input){
			    it->links[k].target,
			    it->links[k].to >= 0 ? x->path_note[it->links[k].to] : 0,
			    it->links[k].embed};
		/* The stored links of this note: a run of the array sorted by from_note. */
		const struct note_link *at =
		    nstored ? bsearch(&it->note_id, stored, nstored, sizeof(*stored), by_from)
		            : NULL;
		while (at && at > stored && at[-1].from_note == it->note_id)
			at--;
		size_t have = 0;
		while (at && at + have < stored + nstored && at[have].from_note == it->note_id)
			have++;
		bool same = have == it->nlinks;
		for (size_t k = 0; same && k < have; k++)
			same = at[k].to_note == want[k].to_note && at[k].embed == want[k].embed &&
			       strcmp(at[k].target, want[k].target) == 0;
		if (!same)
			rc = store_note_links_put(x->svc->store, x->user_id, it->note_id, want,
			                          it->nlinks, err);
		if (rc == VERR_NOT_FOUND) /* deleted meanwhile */
			rc = VERR_OK;
	}
	free(want);
	note_links_free(stored, nstored);
	return rc;
}

/* ---------------------------------------------------------------- the run */

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct import_file *const *)a)[0]->path,
	              ((const struct import_file *const *)b)[0]->path);
}

/* bsearch: the path *key against a file of the sorted list. */
static int path_is(const void *key, const void *f)
{
	return strcmp(*(const char *const *)key, (*(const struct import_file *const *)f)->path);
}

enum verr import_files(struct svc *svc, int64_t user_id, const struct import_file *files, size_t n,
                       const struct import_opts *opts, struct import_report *out,
                       struct verror *err)
{
	struct ctx x = {.svc = svc,
	                .user_id = user_id,
	                .opts = opts,
	                .n = n,
	                .out = out,
	                .embed_left = opts->embed_bytes_max};
	struct note_source *before = NULL;
	size_t nbefore = 0, nplan = 0;
	struct vaultdir_file *now = NULL, *was = NULL;
	struct vaultdir_change *plan = NULL;
	struct vaultdir_index *ix = NULL;
	const struct import_file **sorted = NULL;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	x.items = xcalloc(n + 1, sizeof(*x.items));
	for (size_t i = 0; i < n; i++)
		read_item(&x.items[i], &files[i]);
	/* A path given twice is one file: the first; the others fail. */
	sorted = xcalloc(n + 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &files[i];
	qsort(sorted, n, sizeof(*sorted), by_path);
	for (size_t i = 1; i < n; i++)
		if (strcmp(sorted[i]->path, sorted[i - 1]->path) == 0) {
			struct item *it = &x.items[sorted[i] - files];
			free(it->error);
			it->error = xstrdup("the path is given twice");
		}

	if ((rc = store_note_sources(svc->store, user_id, &before, &nbefore, err)))
		goto out;
	now = xcalloc(n + 1, sizeof(*now));
	for (size_t i = 0; i < n; i++)
		now[i] = (struct vaultdir_file){files[i].path, x.items[i].hash, 0};
	/* Every path a link may reach: the files, then the notes kept without theirs. */
	x.paths = xcalloc(n + nbefore + 1, sizeof(*x.paths));
	x.path_note = xcalloc(n + nbefore + 1, sizeof(*x.path_note));
	for (size_t i = 0; i < n; i++)
		x.paths[x.npaths++] = files[i].path;
	/* Some of the folder's files: the others are not gone (nor renamed), only linked to. */
	was = xcalloc(nbefore + 1, sizeof(*was));
	size_t nwas = 0;
	for (size_t i = 0; i < nbefore; i++) {
		const char *key = before[i].path;
		if (opts->partial && !bsearch(&key, sorted, n, sizeof(*sorted), path_is)) {
			x.path_note[x.npaths] = before[i].note_id;
			x.paths[x.npaths++] = before[i].path;
			continue;
		}
		was[nwas++] =
		    (struct vaultdir_file){before[i].path, before[i].hash, before[i].note_id};
	}
	vaultdir_plan(now, n, was, nwas, &plan, &nplan);

	for (size_t k = 0; k < nplan; k++) {
		const struct vaultdir_change *c = &plan[k];
		if (c->now && !x.items[c->now - now].error)
			x.items[c->now - now].dirty =
			    c->action == VAULTDIR_ADD || c->action == VAULTDIR_UPDATE;
		if (c->action == VAULTDIR_DELETE && !opts->prune) {
			x.path_note[x.npaths] = c->before->note_id;
			x.paths[x.npaths++] = c->before->path;
		}
	}
	ix = vaultdir_index_new(x.paths, x.npaths);
	for (size_t i = 0; i < n; i++)
		if (!x.items[i].error)
			resolve_links(ix, &x.items[i]);

	for (size_t k = 0; k < nplan; k++) {
		if ((rc = apply(&x, &plan[k], now, err)))
			goto out;
		if (opts->progress)
			opts->progress(opts->arg, k + 1, nplan);
	}
	if (!opts->dry_run) {
		for (size_t i = 0; i < n; i++)
			x.path_note[i] = x.items[i].note_id;
		rc = put_links(&x, err);
	}
out:
	for (size_t i = 0; i < n; i++)
		item_cleanup(&x.items[i]);
	free(x.items);
	free(x.paths);
	free(x.path_note);
	free(sorted);
	vaultdir_index_free(ix);
	free(plan);
	free(now);
	free(was);
	note_sources_free(before, nbefore);
	return rc;
}

/* ---------------------------------------------------------------- uploads */

/* The files an upload makes, each string owned. */
struct upset {
	struct upfile {
		char *path, *data, *error;
		size_t len;
	} * f;
	size_t n, cap;
	size_t pdfs; /* read so far */
};

static struct upfile *up_add(struct upset *s, const char *path)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->f = xrealloc(s->f, s->cap * sizeof(*s->f));
	}
	struct upfile *f = &s->f[s->n++];
	*f = (struct upfile){.path = xstrdup(path)};
	return f;
}

static bool ext_is(const char *name, const char *ext)
{
	size_t n = strlen(name), e = strlen(ext);
	return n > e && strcasecmp(name + n - e, ext) == 0;
}

/* A PDF's pages as sections, "# Page 1" first: the chunks' headings then say the page. */
static char *pdf_markdown(const char *text)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP); /* PDF_TEXT_MAX bounds text */
	int page = 1;
	for (const char *p = text;; page++) {
		size_t len = strcspn(p, "\f");
		buf_printf(&b, "%s# Page %d\n\n", page > 1 ? "\n\n" : "", page);
		buf_add(&b, p, len);
		if (!p[len])
			break;
		p += len + 1;
	}
	return buf_steal(&b);
}

/* Adds the note of a PDF at path: its text, or why it has none. */
static void up_pdf(struct upset *s, const char *path, const char *data, size_t len)
{
	struct upfile *f = up_add(s, path);
	if (++s->pdfs > IMPORT_PDFS_MAX) {
		f->error = xasprintf("more than %d PDFs in one upload: send the rest in another",
		                     IMPORT_PDFS_MAX);
		return;
	}
	char *text;
	struct verror e;
	if (pdf_text_isolated(NULL, data, len, IMPORT_PDF_CPU_SECONDS, &text, &e)) {
		f->error = xstrdup(verr_detail(&e));
		return;
	}
	f->data = pdf_markdown(text);
	f->len = strlen(f->data);
	free(text);
}

static void up_text(struct upset *s, const char *path, const char *data, size_t len)
{
	struct upfile *f = up_add(s, path);
	f->data = xmalloc(len + 1);
	memcpy(f->data, data, len);
	f->data[len] = '\0';
	f->len = len;
}

struct zip_walk {
	struct upset *set;
	const char *top; /* the one folder holding every file, with its '/'; NULL if none */
	size_t ntop;
};

/* First walk: whether one folder holds every file. */
static enum verr zip_top(void *ctx, const char *path, const char *data, size_t n,
                         struct verror *err)
{
	struct zip_walk *w = ctx;
	(void)data, (void)n, (void)err;
	const char *slash = strchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) + 1 : 0;
	if (!w->top) {
		w->top = len ? xstrndup(path, len) : xstrdup("");
		w->ntop = len;
	} else if (w->ntop && (len != w->ntop || strncmp(path, w->top, len) != 0)) {
		w->ntop = 0;
	}
	return VERR_OK;
}

static enum verr zip_file(void *ctx, const char *path, const char *data, size_t n,
                          struct verror *err)
{
	struct zip_walk *w = ctx;
	(void)err;
	path += w->ntop;
	bool text = ext_is(path, ".md") || ext_is(path, ".txt");
	/* A text file the notes would refuse is not copied first. */
	if (text && n > NOTE_CONTENT_MAX + OBSIDIAN_FRONT_MAX)
		up_add(w->set, path)->error =
		    xasprintf("the text is over %d bytes (1 MiB)", NOTE_CONTENT_MAX);
	else if (text)
		up_text(w->set, path, data, n);
	else if (ext_is(path, ".pdf"))
		up_pdf(w->set, path, data, n);
	/* Anything else (images, canvases...) is an attachment, not a note. */
	return VERR_OK;
}

/* Adds a zip's files; false when it is refused whole. */
static bool up_zip(struct upset *s, const char *name, const char *data, size_t len)
{
	static const struct unzip_limits lim = {.files = IMPORT_ZIP_FILES_MAX,
	                                        .bytes = IMPORT_ZIP_BYTES_MAX,
	                                        .file_size = PDF_BYTES_MAX};
	struct zip_walk w = {.set = s};
	struct verror e;
	/* The whole zip is checked before any of it is taken: all of it or none. */
	bool ok = unzip_each(data, len, &lim, zip_top, &w, &e) == VERR_OK;
	if (ok)
		unzip_each(data, len, &lim, zip_file, &w, &e);
	else
		up_add(s, name)->error = xstrdup(verr_detail(&e));
	free((char *)w.top);
	return ok;
}

enum verr import_uploads(struct svc *svc, int64_t user_id, const struct import_upload *up, size_t n,
                         bool dry_run, struct import_report *out, struct verror *err)
{
	struct upset s = {0};
	bool vault = false; /* a lone zip, read: the whole folder */
	for (size_t i = 0; i < n; i++) {
		const char *name = up[i].name;
		/* Reported back in JSON: a name that is not text is named lossily, and fails. */
		if (!text_utf8_valid(name, strlen(name))) {
			char *text = text_utf8_sanitize(name);
			up_add(&s, text)->error = xstrdup("the file name is not UTF-8 text");
			free(text);
		} else if (ext_is(name, ".zip"))
			vault = up_zip(&s, name, up[i].data, up[i].len) && n == 1;
		else if (ext_is(name, ".pdf"))
			up_pdf(&s, name, up[i].data, up[i].len);
		else if (ext_is(name, ".md") || ext_is(name, ".txt"))
			up_text(&s, name, up[i].data, up[i].len);
		else
			up_add(&s, name)->error = xstrdup("not a .md, .txt, .pdf or .zip file");
	}
	struct import_file *files = xcalloc(s.n + 1, sizeof(*files));
	for (size_t i = 0; i < s.n; i++)
		files[i] = (struct import_file){.path = s.f[i].path,
		                                .data = s.f[i].data ? s.f[i].data : "",
		                                .len = s.f[i].len,
		                                .error = s.f[i].error};
	/* Embeds may add at most the upload's own size to what is indexed: a few
	 * notes embedded by thousands cannot make gigabytes of chunks. */
	size_t bytes = 1;
	for (size_t i = 0; i < s.n; i++)
		bytes += s.f[i].len;
	struct import_opts opts = {.dry_run = dry_run, .partial = !vault, .embed_bytes_max = bytes};
	enum verr rc = import_files(svc, user_id, files, s.n, &opts, out, err);
	for (size_t i = 0; i < s.n; i++) {
		free(s.f[i].path);
		free(s.f[i].data);
		free(s.f[i].error);
	}
	free(s.f);
	free(files);
	return rc;
}
