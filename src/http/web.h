/*
 * web.h - the web page's files, built into the binary.
 *
 * The Makefile runs tools/webembed.c over web/ and compiles the table it
 * writes (build/gen/web_assets.c); reply.c answers GET and HEAD of these
 * paths, "/" being index.html.
 */
#ifndef VAULT_HTTP_WEB_H
#define VAULT_HTTP_WEB_H

#include <stddef.h>

struct web_asset {
	const char *path;         /* "/index.html" */
	const char *content_type; /* "text/html; charset=utf-8" */
	const char *etag;         /* "\"<hash of the bytes>\"" */
	const unsigned char *data;
	size_t len;
};

/* The generated table, ending with a zeroed entry. */
extern const struct web_asset web_assets[];

/* The asset at path (without the query; "/" is "/index.html"), or NULL. */
const struct web_asset *web_find(const char *path);

/* Whether the asset is a page (HTML), which gets the page's CSP and no caching. */
int web_is_page(const struct web_asset *a);

/*
 * The Content-Security-Policy of the page: its own scripts and styles only,
 * so neither an inline script nor a javascript: URL can run, and nothing
 * from another host.
 */
#define WEB_PAGE_CSP                                                                               \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "         \
	"form-action 'self'"

#endif
