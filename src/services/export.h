/*
 * export.h - notes as Markdown files a person can take anywhere: YAML front
 * matter (id, title, tags, created, updated) that Obsidian and services/obsidian.c
 * read back, then the note's content as written; an imported note at the
 * path it came from, another at a file name made from the title that every
 * common file system accepts, unique within the export.
 */
#ifndef VAULT_SERVICES_EXPORT_H
#define VAULT_SERVICES_EXPORT_H

#include "services/services.h"
#include "store/store.h"

/* The note as a Markdown file: front matter (id, title, tags, aliases, created, updated), then
 * the content (caller frees). */
char *export_markdown(const struct note *n);

/* File names already given in one export, compared as file systems that ignore case do. */
struct export_names {
	void *root;  /* tsearch(3) tree of case-folded names */
	void *bases; /* of struct base: the next number to try for a name */
};

/*
 * A file name for title: characters no file system or Obsidian link allows
 * (/ \ : * ? " < > | # ^ [ ] and controls) become '-', leading dots and
 * trailing dots and spaces go, at most 200 bytes, "Untitled" if nothing is
 * left; " 2", " 3"... before ".md" when the name is taken. Caller frees.
 */
char *export_file_name(struct export_names *used, const char *title);

/*
 * Where the note goes in an export: an imported note at its source path
 * (as .md whatever it was, a .txt or a PDF: the file is Markdown with front
 * matter now), when that path is safe to write and not taken; else
 * export_file_name() of its title.
 * Caller frees.
 */
char *export_note_path(struct export_names *used, const struct note *n);

void export_names_free(struct export_names *used);

/*
 * Calls fn with each of the user's notes, oldest first (so the names given
 * by title number the same way each time), a page at a time after the last
 * one given (one page in memory; notes added or deleted meanwhile shift
 * nothing); stops at fn's first error and returns it.
 */
enum verr export_each(struct svc *svc, int64_t user_id,
                      enum verr (*fn)(void *ctx, const struct note *n, struct verror *err),
                      void *ctx, struct verror *err);

/* A zip being written into memory, one note a file (export_zip_*). */
struct export_zip;

/* A zip that holds at most cap bytes (the caller's bound on what it keeps in memory). */
struct export_zip *export_zip_new(size_t cap);

/*
 * Adds the note as a Markdown file at export_note_path() (unique in the
 * zip), dated its last update; VERR_TOO_LARGE when the zip would pass its cap.
 */
enum verr export_zip_add(struct export_zip *z, const struct note *n, struct verror *err);

/* Finishes the zip: *data (*n bytes, caller frees) is the archive. Frees z. */
enum verr export_zip_finish(struct export_zip *z, char **data, size_t *n, struct verror *err);

#endif
