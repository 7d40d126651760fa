/*
 * openapi.h - the OpenAPI 3.1 document of the API, made from the route
 * table (api/routes.c) and the shapes of the requests and answers
 * (api/openapi.c): GET /openapi.json and `vault openapi` serve it.
 */
#ifndef VAULT_API_OPENAPI_H
#define VAULT_API_OPENAPI_H

#include <jansson.h>

/* The document, built on the first call; a new reference for the caller. */
json_t *api_openapi(void);

#endif
