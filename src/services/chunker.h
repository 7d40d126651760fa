/*
 * chunker.h - cuts a note into pieces to embed, along its Markdown structure.
 *
 * The Markdown is parsed with md4c; blocks (headings, paragraphs, list
 * items, quotes, code) become plain text and are packed into chunks of at
 * most CHUNK_MAX_CHARS, a block longer than that split at sentence or word
 * boundaries, consecutive chunks of a section overlapping by about
 * CHUNK_OVERLAP_CHARS. Each chunk remembers the heading trail above it
 * ("Setup > Install"), and the note's title and that trail go into the
 * text the embedder sees, so every chunk carries its context.
 */
#ifndef VAULT_SERVICES_CHUNKER_H
#define VAULT_SERVICES_CHUNKER_H

#include <stddef.h>

#define CHUNK_MAX_CHARS     1200
#define CHUNK_OVERLAP_CHARS 200

struct chunk {
	char *heading; /* trail of headings, " > " between them; "" if none */
	char *text;    /* plain text, blocks separated by blank lines */
};

/*
 * Splits content (Markdown, valid UTF-8) into *out, in order; returns the
 * count. A note with no text gets one chunk holding its title. Caller
 * frees with chunks_free().
 */
size_t chunker_split(const char *title, const char *content, struct chunk **out);

void chunks_free(struct chunk *chunks, size_t n);

/* The text the embedder sees for a chunk: title, heading trail, text. Caller frees. */
char *chunker_embed_input(const char *title, const char *heading, const char *text);

#endif
