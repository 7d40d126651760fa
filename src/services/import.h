/*
 * import.h - a folder of Markdown files (an Obsidian vault) into a user's
 * notes, again and again: files are known by their path and the hash of
 * their bytes, so an unchanged file is skipped, a changed one updates its
 * note, a renamed one keeps its note, and a file gone deletes its note
 * only when asked (prune).
 *
 * A .md file is read as Obsidian does (services/obsidian.h): the note's
 * title is the front matter's title, else the first "# heading", else the
 * file's name; its tags the front matter's and the inline #tags; its
 * aliases and created/updated dates the front matter's (else the file's
 * time). Its content is the text after the front matter, unchanged, so it
 * goes back out through export as it came. ![[embeds]] of other notes are
 * expanded (IMPORT_EMBED_DEPTH deep, no cycles) only into the text that is
 * chunked and embedded, never into the content. [[links]] and ![[embeds]]
 * become the note's links, resolved like Obsidian (services/vaultdir.h),
 * unresolved ones kept; attachments (![[image.png]]) are neither notes nor
 * links. A .txt file is its whole text, titled by its name.
 *
 * Each file is all or nothing: its note, path and hash are one write.
 * Links are derived: every run compares each note's links with what it
 * computes and rewrites those that differ, so a run cut short is mended
 * by the next.
 */
#ifndef VAULT_SERVICES_IMPORT_H
#define VAULT_SERVICES_IMPORT_H

#include "services/services.h"

#define IMPORT_EMBED_DEPTH 3
#define IMPORT_PATH_MAX    1024 /* bytes of a relative path */

struct import_file {
	const char *path; /* relative to the folder, '/'-separated */
	const char *data; /* the file's bytes, with data[len] == '\0' */
	size_t len;
	int64_t mtime_ms; /* the file's time, for a note whose front matter has no date; 0: none */
	/* Why the file could not be read, or NULL: then it fails, and its note (if
	 * any) stays as it is, never deleted as gone. */
	const char *error;
};

enum import_outcome {
	IMPORT_ADDED,
	IMPORT_UPDATED,
	IMPORT_UNCHANGED,
	IMPORT_RENAMED,
	IMPORT_DELETED,
	IMPORT_KEPT, /* its file is gone; the note stays (no prune) */
	IMPORT_FAILED,
};

/* What happened to one file (or, dry, would happen). */
struct import_message {
	char *path;
	char *from; /* RENAMED: the old path; else NULL */
	char *text; /* FAILED: why; else a warning (e.g. bad front matter) or NULL */
	enum import_outcome outcome;
};

struct import_report {
	size_t added, updated, unchanged, renamed, deleted, kept, failed;
	/* Every file but the unchanged ones without a warning, in path order. */
	struct import_message *msgs;
	size_t nmsgs;
};

struct import_opts {
	bool prune;   /* delete the notes whose files are gone */
	bool dry_run; /* plan and report only: nothing is written */
	bool partial; /* the files are some of the folder's: no other file is gone or renamed */
	size_t embed_bytes_max; /* bytes embeds may add to all indexed text; 0: no bound */
	/* Called after each file's change, for a progress bar; NULL for none. */
	void (*progress)(void *arg, size_t done, size_t total);
	void *arg;
};

/*
 * Imports files[0..n) (the whole folder: files missing from it are gone)
 * for user_id into *out (caller frees with import_report_free, also on
 * failure). A file that cannot become a note is FAILED with the reason,
 * and the others go on; the call itself fails (and stops) only when the
 * store does (VERR_UNAVAILABLE, VERR_STORAGE_FULL, VERR_INTERNAL).
 */
enum verr import_files(struct svc *svc, int64_t user_id, const struct import_file *files, size_t n,
                       const struct import_opts *opts, struct import_report *out,
                       struct verror *err);

void import_report_free(struct import_report *r);

/* A file sent to POST /api/v1/import. */
struct import_upload {
	const char *name; /* as the client named it: a path for a folder's files */
	const char *data; /* len bytes, then a NUL */
	size_t len;
};

#define IMPORT_ZIP_FILES_MAX   20000               /* files in one zip */
#define IMPORT_ZIP_BYTES_MAX   (256 * 1024 * 1024) /* inflated bytes of one zip */
#define IMPORT_PDFS_MAX        20                  /* PDFs read in one upload */
#define IMPORT_PDF_CPU_SECONDS 10

/*
 * Imports uploaded files with import_files' rules: .md and .txt at their
 * names; a .pdf's text (pages as sections "# Page N", so search and ask
 * can say the page) under its name, read in a child process; a .zip's
 * .md, .txt and .pdf files at their paths in it (one folder holding
 * everything is left out of the paths, as a zipped vault folder has). A
 * lone zip is the whole folder, as for `vault import` (renames found,
 * files gone kept); other uploads are some files of it. A file of another
 * kind, a zip refused (a path leaving it, a limit passed), an unreadable
 * PDF (encrypted, scanned, too large) fails with the reason, and only it.
 */
enum verr import_uploads(struct svc *svc, int64_t user_id, const struct import_upload *up, size_t n,
                         bool dry_run, struct import_report *out, struct verror *err);

/* "added", "updated", ...: the outcome's word. */
const char *import_outcome_name(enum import_outcome o);

#endif
