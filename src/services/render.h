/*
 * render.h - a note's Markdown as HTML for the web page.
 *
 * md4c's HTML renderer with raw HTML turned off: a <script> or an
 * <img onerror> in a note comes out as escaped text, never as markup. Link
 * and image URLs are kept as written (escaped for the attribute), so the page
 * still relies on its Content-Security-Policy against javascript: URLs.
 */
#ifndef VAULT_SERVICES_RENDER_H
#define VAULT_SERVICES_RENDER_H

#include "core/err.h"

/* The HTML of markdown; VERR_INTERNAL if md4c gives up. Caller frees *out. */
enum verr render_markdown_html(const char *markdown, char **out, struct verror *err);

#endif
