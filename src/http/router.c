/*
 * router.c - segment-by-segment matching of "/a/{x}/b" patterns.
 */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

/* Whether path fits pattern; fills captures for {name} segments. */
static bool fits(const char *pattern, const char *path, char captures[][ROUTER_CAPTURE_MAX])
{
	int ncap = 0;
	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++, path++;
		size_t plen = strcspn(pattern, "/"), slen = strcspn(path, "/");
		if (pattern[0] == '{') {
			if (slen == 0 || ncap >= API_MAX_PARAMS)
				return false;
			if (slen < ROUTER_CAPTURE_MAX) {
				memcpy(captures[ncap], path, slen);
				captures[ncap][slen] = '\0';
			} else {
				captures[ncap][0] = '\0';
			}
			ncap++;
		} else if (plen != slen || memcmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen, path += slen;
	}
	return *pattern == '\0' && *path == '\0';
}

void router_match(const struct api_route *routes, const char *method, const char *path,
                  struct route_match *m)
{
	char captures[API_MAX_PARAMS][ROUTER_CAPTURE_MAX];
	memset(m, 0, sizeof(*m));
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	for (const struct api_route *r = routes; r->method; r++) {
		if (!fits(r->pattern, path, captures))
			continue;
		if (strcmp(r->method, want) == 0) {
			m->route = r;
			memcpy(m->captures, captures, sizeof(captures));
			return;
		}
		size_t len = strlen(m->allow);
		if (len + strlen(r->method) + 3 < ROUTER_ALLOW_MAX)
			snprintf(m->allow + len, ROUTER_ALLOW_MAX - len, "%s%s", len ? ", " : "",
			         r->method);
		m->path_known = true;
	}
}
