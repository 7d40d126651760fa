/*
 * vaultdir.h - the decisions of importing a folder of notes, apart from any
 * file system or database: where an Obsidian link points, and what an
 * import changes (added, updated, unchanged, renamed, deleted) given what a
 * previous import left.
 */
#ifndef VAULT_SERVICES_VAULTDIR_H
#define VAULT_SERVICES_VAULTDIR_H

#include <stddef.h>
#include <stdint.h>

/* The paths of a vault, indexed for resolving links (vaultdir_index_new). */
struct vaultdir_index;

/*
 * Indexes paths (relative to the vault, '/'-separated, notes ending in
 * ".md"); they must outlive the index.
 */
struct vaultdir_index *vaultdir_index_new(const char *const *paths, size_t n);
void vaultdir_index_free(struct vaultdir_index *ix);

/*
 * The file a link target names, as Obsidian resolves it, from the note at
 * path from (NULL: the root): "./x" and "../x" relative to from's folder;
 * else the path from the vault's root ("Folder/Note" or "Note", ".md"
 * implied when the target has no extension); else a file of that name (or
 * path suffix) anywhere: the one in from's folder, else the shortest path,
 * else the first in byte order. Case and Unicode forms are ignored (NFKC,
 * case-folded). Returns the index in paths, or -1 when nothing matches.
 * O(log n) plus the files sharing the name.
 */
long vaultdir_resolve(const struct vaultdir_index *ix, const char *target, const char *from);

/* A file found now, or one a previous import made a note of. */
struct vaultdir_file {
	const char *path;
	const char *hash; /* of the file's bytes */
	int64_t note_id;  /* for a previous import's file; 0 for one found now */
};

enum vaultdir_action {
	VAULTDIR_ADD,       /* a new file: a new note */
	VAULTDIR_UPDATE,    /* same path, other bytes */
	VAULTDIR_UNCHANGED, /* same path, same bytes */
	VAULTDIR_RENAME,    /* a path gone, a new path with the same bytes: the note moves */
	VAULTDIR_DELETE,    /* a path gone (deleted only with --prune) */
};

struct vaultdir_change {
	enum vaultdir_action action;
	const struct vaultdir_file *now;    /* NULL for DELETE */
	const struct vaultdir_file *before; /* NULL for ADD */
};

/*
 * What importing now[] over before[] changes, one change per file of
 * either (a rename pairs one of each). Renames pair gone and new paths
 * of equal hash in byte order of their paths. *out (caller frees) holds
 * *n changes in byte order of their paths (now's path where there is one).
 */
void vaultdir_plan(const struct vaultdir_file *now, size_t nnow, const struct vaultdir_file *before,
                   size_t nbefore, struct vaultdir_change **out, size_t *n);

#endif
