/*
 * web.c - looks up the web page's built-in files (see web.h).
 */
#include "http/web.h"

#include <string.h>

const struct web_asset *web_find(const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (const struct web_asset *a = web_assets; a->path; a++)
		if (strcmp(a->path, path) == 0)
			return a;
	return NULL;
}

int web_is_page(const struct web_asset *a)
{
	return strncmp(a->content_type, "text/html", 9) == 0;
}
