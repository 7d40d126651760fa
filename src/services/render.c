/*
 * render.c - Markdown to HTML with md4c-html (see render.h).
 */
#include "services/render.h"

#include <md4c-html.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct buf {
	char *p;
	size_t len, cap;
};

static void append(const MD_CHAR *text, MD_SIZE size, void *userdata)
{
	struct buf *b = userdata;
	if (b->len + size + 1 > b->cap) {
		b->cap = (b->len + size + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, text, size);
	b->len += size;
	b->p[b->len] = '\0';
}

enum verr render_markdown_html(const char *markdown, char **out, struct verror *err)
{
	/* GitHub's dialect (tables, strike-through, task lists, bare links), no raw HTML. */
	const unsigned flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML;
	struct buf b = {0};
	*out = NULL;
	if (md_html(markdown, (MD_SIZE)strlen(markdown), append, &b, flags, 0) != 0) {
		free(b.p);
		return verr_set(err, VERR_INTERNAL, "cannot render the Markdown");
	}
	*out = b.p ? b.p : xstrdup("");
	return VERR_OK;
}
