/*
 * vaultdir.c - link resolution and import plans (see vaultdir.h).
 */
#include "services/vaultdir.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/text.h"

struct entry {
	char *key;   /* folded: the whole path, or its last part */
	size_t path; /* index in paths */
};

struct vaultdir_index {
	const char *const *paths;
	char **folded;             /* paths[i] folded */
	struct entry *full, *base; /* sorted by key; full's keys are folded's */
	size_t n;
};

static int by_key(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->path > y->path) - (x->path < y->path);
}

struct vaultdir_index *vaultdir_index_new(const char *const *paths, size_t n)
{
	struct vaultdir_index *ix = xcalloc(1, sizeof(*ix));
	ix->paths = paths;
	ix->n = n;
	ix->folded = xcalloc(n ? n : 1, sizeof(char *));
	ix->full = xcalloc(n ? n : 1, sizeof(struct entry));
	ix->base = xcalloc(n ? n : 1, sizeof(struct entry));
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(paths[i], '/');
		ix->folded[i] = text_fold(paths[i]);
		ix->full[i] = (struct entry){ix->folded[i], i};
		ix->base[i] = (struct entry){text_fold(slash ? slash + 1 : paths[i]), i};
	}
	qsort(ix->full, n, sizeof(struct entry), by_key);
	qsort(ix->base, n, sizeof(struct entry), by_key);
	return ix;
}

void vaultdir_index_free(struct vaultdir_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->folded[i]);
		free(ix->base[i].key);
	}
	free(ix->folded);
	free(ix->full);
	free(ix->base);
	free(ix);
}

/* The first entry of v[0..n) with key, or n. */
static size_t lower(const struct entry *v, size_t n, const char *key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(v[lo].key, key) == 0 ? lo : n;
}

/* The length of path's folder part ("a/b/c.md" -> 3, "c.md" -> 0). */
static size_t folder_len(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? (size_t)(slash - path) : 0;
}

/* from's folder joined with rel ("./x", "../x"), ".." applied; NULL above the root. */
static char *join(const char *from, const char *rel)
{
	size_t f = from ? folder_len(from) : 0;
	char *out = xmalloc(f + strlen(rel) + 2);
	memcpy(out, from ? from : "", f);
	size_t o = f;
	for (const char *s = rel; *s;) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (o == 0) {
				free(out);
				return NULL;
			}
			while (o && out[o - 1] != '/')
				o--;
			o -= o > 0; /* the slash before it */
		} else if (len && !(len == 1 && s[0] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, s, len);
			o += len;
		}
		s += len + (e != NULL);
	}
	out[o] = '\0';
	return out;
}

/* The path from the root with ".md" implied, then as written: index, or -1. */
static long exact(const struct vaultdir_index *ix, const char *target)
{
	char *forms[2] = {xasprintf("%s.md", target), xstrdup(target)};
	long found = -1;
	for (int k = 0; k < 2 && found < 0; k++) {
		char *key = text_fold(forms[k]);
		size_t at = lower(ix->full, ix->n, key);
		if (at < ix->n)
			found = (long)ix->full[at].path;
		free(key);
	}
	free(forms[0]);
	free(forms[1]);
	return found;
}

long vaultdir_resolve(const struct vaultdir_index *ix, const char *target, const char *from)
{
	if (strncmp(target, "./", 2) == 0 || strncmp(target, "../", 3) == 0) {
		char *joined = join(from, target);
		long found = joined && *joined ? exact(ix, joined) : -1;
		free(joined);
		return found;
	}
	while (*target == '/')
		target++;
	if (!*target)
		return -1;
	long best = exact(ix, target);
	if (best >= 0)
		return best;
	/* By name: the files whose last part is the target's, and whose path ends with it. */
	size_t from_folder = from ? folder_len(from) : 0;
	for (int k = 0; k < 2 && best < 0; k++) {
		char *form = k == 0 ? xasprintf("%s.md", target) : xstrdup(target);
		char *key = text_fold(form), *slash = strrchr(key, '/');
		const char *name = slash ? slash + 1 : key;
		size_t klen = strlen(key);
		for (size_t at = lower(ix->base, ix->n, name);
		     at < ix->n && strcmp(ix->base[at].key, name) == 0; at++) {
			size_t i = ix->base[at].path;
			if (slash) { /* "Deep/Plan": the path must end with it, at a '/' */
				const char *full = ix->folded[i];
				size_t fl = strlen(full);
				if (fl < klen || strcmp(full + fl - klen, key) != 0 ||
				    (fl > klen && full[fl - klen - 1] != '/'))
					continue;
			}
			if (best < 0) {
				best = (long)i;
				continue;
			}
			const char *a = ix->paths[i], *b = ix->paths[best];
			bool a_here = from && folder_len(a) == from_folder &&
			              strncmp(a, from, from_folder) == 0;
			bool b_here = from && folder_len(b) == from_folder &&
			              strncmp(b, from, from_folder) == 0;
			size_t la = strlen(a), lb = strlen(b);
			if (a_here != b_here ? a_here : la != lb ? la < lb : strcmp(a, b) < 0)
				best = (long)i;
		}
		free(key);
		free(form);
	}
	return best;
}

static int by_path(const void *a, const void *b)
{
	return strcmp((*(const struct vaultdir_file *const *)a)->path,
	              (*(const struct vaultdir_file *const *)b)->path);
}

static int by_hash_path(const void *a, const void *b)
{
	const struct vaultdir_file *x = *(const struct vaultdir_file *const *)a;
	const struct vaultdir_file *y = *(const struct vaultdir_file *const *)b;
	int c = strcmp(x->hash, y->hash);
	return c ? c : strcmp(x->path, y->path);
}

static int by_change_path(const void *a, const void *b)
{
	const struct vaultdir_change *x = a, *y = b;
	return strcmp(x->now ? x->now->path : x->before->path,
	              y->now ? y->now->path : y->before->path);
}

static const struct vaultdir_file **sorted(const struct vaultdir_file *v, size_t n,
                                           int (*cmp)(const void *, const void *))
{
	const struct vaultdir_file **p = xcalloc(n ? n : 1, sizeof(*p));
	for (size_t i = 0; i < n; i++)
		p[i] = &v[i];
	qsort(p, n, sizeof(*p), cmp);
	return p;
}

void vaultdir_plan(const struct vaultdir_file *now, size_t nnow, const struct vaultdir_file *before,
                   size_t nbefore, struct vaultdir_change **out, size_t *n)
{
	const struct vaultdir_file **a = sorted(now, nnow, by_path);
	const struct vaultdir_file **b = sorted(before, nbefore, by_path);
	const struct vaultdir_file **added = xcalloc(nnow ? nnow : 1, sizeof(*added));
	const struct vaultdir_file **gone = xcalloc(nbefore ? nbefore : 1, sizeof(*gone));
	struct vaultdir_change *c = xcalloc(nnow + nbefore + 1, sizeof(*c));
	size_t nc = 0, nadded = 0, ngone = 0, i = 0, j = 0;

	/* Same path: updated or unchanged; the rest are new or gone. */
	while (i < nnow || j < nbefore) {
		int cmp = i == nnow ? 1 : j == nbefore ? -1 : strcmp(a[i]->path, b[j]->path);
		if (cmp == 0) {
			bool same = strcmp(a[i]->hash, b[j]->hash) == 0;
			c[nc++] = (struct vaultdir_change){
			    same ? VAULTDIR_UNCHANGED : VAULTDIR_UPDATE, a[i++], b[j++]};
		} else if (cmp < 0) {
			added[nadded++] = a[i++];
		} else {
			gone[ngone++] = b[j++];
		}
	}

	/* A new path with the bytes of a gone one is that file, moved. */
	qsort(gone, ngone, sizeof(*gone), by_hash_path);
	bool *paired = xcalloc(ngone ? ngone : 1, sizeof(*paired));
	/* next[f]: the first file not paired yet in the run of equal hashes that starts at f. */
	size_t *next = xcalloc(ngone ? ngone : 1, sizeof(*next));
	for (size_t k = 0; k < ngone; k++)
		next[k] = k;
	for (size_t k = 0; k < nadded; k++) {
		size_t lo = 0, hi = ngone;
		while (lo < hi) { /* the first gone file with this hash */
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(gone[mid]->hash, added[k]->hash) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t t = lo < ngone ? next[lo] : ngone;
		if (t < ngone && strcmp(gone[t]->hash, added[k]->hash) == 0) {
			paired[t] = true;
			next[lo] = t + 1;
			c[nc++] = (struct vaultdir_change){VAULTDIR_RENAME, added[k], gone[t]};
		} else {
			c[nc++] = (struct vaultdir_change){VAULTDIR_ADD, added[k], NULL};
		}
	}
	for (size_t k = 0; k < ngone; k++)
		if (!paired[k])
			c[nc++] = (struct vaultdir_change){VAULTDIR_DELETE, NULL, gone[k]};

	qsort(c, nc, sizeof(*c), by_change_path);
	free(next);
	free(paired);
	free(gone);
	free(added);
	free(b);
	free(a);
	*out = c;
	*n = nc;
}
