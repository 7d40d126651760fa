/*
 * render.h - a note's Markdown as HTML, for the page and any other client.
 *
 * GitHub's dialect (tables, strike-through, task lists, bare links) with
 * raw HTML off: a <script> or an <img onerror> in a note comes out as
 * escaped text, never as markup. Link and image URLs are kept only when
 * their scheme is http, https or mailto (links), or they are relative: a
 * javascript:, data: or vbscript: URL, however spelt, leaves the link's
 * text without the link. Work and output are linear in the note (see
 * markdown.h); a note whose HTML would pass eight times its size comes
 * back as escaped text in a <pre class="plain">.
 */
#ifndef VAULT_SERVICES_RENDER_H
#define VAULT_SERVICES_RENDER_H

/* The HTML of markdown (valid UTF-8); never fails. Caller frees. */
char *render_markdown_html(const char *markdown);

#endif
