/*
 * buf.c - the capped growable string (see buf.h).
 */
#include "core/buf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

void buf_init(struct buf *b, size_t cap)
{
	*b = (struct buf){.cap = cap};
}

enum verr buf_add(struct buf *b, const void *s, size_t n)
{
	if (n > b->cap - b->len)
		return VERR_TOO_LARGE;
	if (b->len + n + 1 > b->alloc) {
		size_t want = b->alloc ? b->alloc : 64;
		while (want < b->len + n + 1)
			want *= 2;
		/* Never more than a full buffer needs: a buffer near its cap costs
		 * the cap (the request body's budget counts on it), not twice that. */
		if (b->cap < want - 1)
			want = b->cap + 1;
		b->p = xrealloc(b->p, want);
		b->alloc = want;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return VERR_OK;
}

enum verr buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

enum verr buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* only a bad format does this */
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, (size_t)n);
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	enum verr rc = buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

void buf_consume(struct buf *b, size_t n)
{
	assert(n <= b->len);
	if (n == 0)
		return;
	memmove(b->p, b->p + n, b->len - n + 1); /* with the NUL */
	b->len -= n;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

char *buf_steal(struct buf *b)
{
	char *p = b->p ? b->p : xstrdup("");
	b->p = NULL;
	b->len = b->alloc = 0;
	return p;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->alloc = 0;
}
