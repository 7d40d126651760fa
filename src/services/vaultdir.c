/*
 * vaultdir.c - link resolution and import plans (see vaultdir.h).
 */
#include "services/vaultdir.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

/* The length of path's folder part ("a/b/c.md" -> 3, "c.md" -> 0). */
static size_t folder_len(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? (size_t)(slash - path) : 0;
}

/* Whether path is name, or ends with "/" name, ignoring ASCII case. */
static bool names(const char *path, const char *name)
{
	size_t p = strlen(path), k = strlen(name);
	return p >= k && strcasecmp(path + p - k, name) == 0 && (p == k || path[p - k - 1] == '/');
}

long vaultdir_resolve(const char *const *paths, size_t n, const char *target, const char *from)
{
	while (*target == '/' || (target[0] == '.' && target[1] == '/'))
		target += *target == '/' ? 1 : 2;
	if (!*target)
		return -1;
	char *forms[2] = {xasprintf("%s.md", target), xstrdup(target)};
	long best = -1;
	for (int f = 0; f < 2 && best < 0; f++)
		for (size_t i = 0; i < n; i++)
			if (strcasecmp(paths[i], forms[f]) == 0) {
				best = (long)i;
				break;
			}
	size_t from_folder = from ? folder_len(from) : 0;
	for (int f = 0; f < 2 && best < 0; f++)
		for (size_t i = 0; i < n; i++) {
			if (!names(paths[i], forms[f]))
				continue;
			if (best < 0) {
				best = (long)i;
				continue;
			}
			const char *a = paths[i], *b = paths[best];
			bool a_here = from && folder_len(a) == from_folder &&
			              strncmp(a, from, from_folder) == 0;
			bool b_here = from && folder_len(b) == from_folder &&
			              strncmp(b, from, from_folder) == 0;
			size_t la = strlen(a), lb = strlen(b);
			if (a_here != b_here ? a_here : la != lb ? la < lb : strcmp(a, b) < 0)
				best = (long)i;
		}
	free(forms[0]);
	free(forms[1]);
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
