/*
 * unzip.h - the files of an uploaded .zip (a vault folder zipped), read
 * with libarchive under caps a zip bomb cannot pass: files counted, bytes
 * counted as they are inflated (a file stops being read at the cap, never
 * inflated whole first), and paths that could leave the archive refused.
 * The zip is read as a stream of local headers, never by its central
 * directory, whose entries libarchive would hold all at once.
 */
#ifndef VAULT_SERVICES_UNZIP_H
#define VAULT_SERVICES_UNZIP_H

#include <stddef.h>

#include "core/err.h"

struct unzip_limits {
	size_t files;     /* regular files, at most */
	size_t bytes;     /* inflated bytes of all files, at most */
	size_t file_size; /* inflated bytes of one file, at most */
};

/*
 * Called for each file in archive order (directories and macOS's resource
 * forks, "__MACOSX/" and "._name", are skipped; a
 * streamed zip does not say which entries are links, so a link comes as a
 * file holding its target's name): path relative, '/'-separated, valid UTF-8, without
 * "." or ".." parts; data[0..n) the whole file. A nonzero return stops the
 * walk and is returned.
 */
typedef enum verr (*unzip_fn)(void *ctx, const char *path, const char *data, size_t n,
                              struct verror *err);

/*
 * Walks the zip in data[0..n). VERR_INVALID for what is not a readable zip
 * or holds a path that leaves it (absolute, "..", a NUL or control byte),
 * is not UTF-8 or comes twice; VERR_TOO_LARGE past a limit, naming it. Nothing is called
 * for an archive refused before its first file; a refusal later stops the
 * walk there, so callers that must import all or nothing check first with
 * fn NULL.
 */
enum verr unzip_each(const void *data, size_t n, const struct unzip_limits *lim, unzip_fn fn,
                     void *ctx, struct verror *err);

#endif
