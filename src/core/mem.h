/*
 * mem.h - allocation that never returns NULL.
 *
 * Out of memory is not an error vault can answer usefully, so these abort
 * with a message instead (as Redis zmalloc and Postgres palloc do); callers
 * need no NULL checks after them.
 */
#ifndef VAULT_CORE_MEM_H
#define VAULT_CORE_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
