/*
 * obsidian.h - what a Markdown file of an Obsidian vault says about itself:
 * its front matter (title, tags, aliases, dates; YAML, read with libyaml),
 * its inline #tags and its [[wikilinks]] (read with md4c, so nothing inside
 * code counts), and its first "# heading".
 *
 * Untrusted input (any file someone imports): the front matter is at most
 * OBSIDIAN_FRONT_MAX bytes, the body goes through markdown_parse()'s bounds,
 * and what is collected is capped (OBSIDIAN_TAGS_MAX, OBSIDIAN_LINKS_MAX).
 * fuzz/obsidian.c checks these properties.
 */
#ifndef VAULT_SERVICES_OBSIDIAN_H
#define VAULT_SERVICES_OBSIDIAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define OBSIDIAN_FRONT_MAX   (64 * 1024)
#define OBSIDIAN_FRONT_DEPTH 32    /* [ and { nested deeper: libyaml's work grows as its square */
#define OBSIDIAN_TAGS_MAX    256   /* distinct tags kept; the rest set tags_over */
#define OBSIDIAN_LINKS_MAX   10000 /* links kept, in text order; the rest set links_over */

/* [[target#heading^block|alias]], or ![[...]] (embed). */
struct obsidian_link {
	char *target;  /* as written, without a trailing ".md": "Folder/Note" */
	char *heading; /* after '#', or NULL */
	char *block;   /* after '^', or NULL */
	char *alias;   /* after '|', or NULL */
	bool embed;
};

struct obsidian_doc {
	char *title; /* front matter "title", else the first "# heading", else NULL */
	char *
	    *tags; /* front matter first, then inline; without '#'; distinct ignoring ASCII case */
	size_t ntags;
	bool tags_over;
	char **aliases;
	size_t naliases;
	int64_t created_ms, updated_ms; /* 0 when not given */
	struct obsidian_link *links;
	size_t nlinks;
	bool links_over;
	size_t body; /* offset of the text after the front matter */
	/* What was wrong with the front matter, "" if nothing: YAML that is not,
	 * too long or too deep (then it stays in the text, body is 0, and no field
	 * comes from it), or a date that is not one (left out). */
	char warning[VERR_DETAIL_MAX];
};

/*
 * Reads text[0..n) (valid UTF-8). Never fails: a file Obsidian opens is a
 * note whatever its front matter holds; out->warning says what was wrong.
 */
void obsidian_parse(const char *text, size_t n, struct obsidian_doc *out);

void obsidian_doc_free(struct obsidian_doc *d);

#endif
