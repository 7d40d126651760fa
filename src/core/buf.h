/*
 * buf.h - the growable string of vault, with a cap.
 *
 * As curl's dynbuf: appending past the cap fails with VERR_TOO_LARGE and
 * leaves the buffer as it was, so code that builds text from untrusted
 * input learns at once that it went too far, instead of growing until the
 * process dies. The text is always NUL-terminated (b->p is NULL until the
 * first append), and the buffer never allocates more than cap + 1 bytes.
 * Allocation failure aborts, as xmalloc does.
 */
#ifndef VAULT_CORE_BUF_H
#define VAULT_CORE_BUF_H

#include <stddef.h>

#include "core/err.h"

struct buf {
	char *p;
	size_t len;
	size_t alloc; /* bytes allocated at p */
	size_t cap;   /* most bytes len may reach */
};

#define BUF_NOCAP ((size_t)-1) /* for text whose size something else bounds */

/* An empty buffer that holds at most cap bytes. */
void buf_init(struct buf *b, size_t cap);

/* Appends s[0..n); VERR_TOO_LARGE, and nothing appended, if it would pass the cap. */
enum verr buf_add(struct buf *b, const void *s, size_t n);
enum verr buf_adds(struct buf *b, const char *s);
enum verr buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Removes the first n bytes (n <= b->len), keeping the memory. */
void buf_consume(struct buf *b, size_t n);

/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);

/* The text, "" if none, handed to the caller (who frees it); the buffer is empty again. */
char *buf_steal(struct buf *b);

/* Frees the text; the buffer is empty and may be used again. */
void buf_free(struct buf *b);

#endif
