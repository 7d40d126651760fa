/*
 * router.h - matches a method and path against the route table.
 */
#ifndef VAULT_HTTP_ROUTER_H
#define VAULT_HTTP_ROUTER_H

#include <stdbool.h>

#include "api/api.h"

#define ROUTER_CAPTURE_MAX 64
#define ROUTER_ALLOW_MAX   64

struct route_match {
	const struct api_route *route; /* NULL if nothing matched */
	bool path_known;               /* the path exists under another method */
	char allow[ROUTER_ALLOW_MAX];  /* those methods, "GET, PUT" */
	char captures[API_MAX_PARAMS][ROUTER_CAPTURE_MAX];
};

/*
 * Looks up method and path (without the query) in routes. HEAD matches GET
 * routes. A capture longer than ROUTER_CAPTURE_MAX - 1 comes back empty.
 */
void router_match(const struct api_route *routes, const char *method, const char *path,
                  struct route_match *m);

#endif
