/*
 * bearer.c - fuzz target: the Authorization header as every authenticated
 * request presents it, and personal access tokens (api/api.c bearer
 * parsing and api_authorize, services/auth.c auth_token_well_formed).
 *
 * Input: the header's value. Properties: a personal access token is
 * refused on a route that manages the account (API_ACCOUNT) exactly when
 * the header is "Bearer", any case, spaces, then the vault_pat_ prefix
 * (checked against a reference reading here), and allowed on a note route
 * whatever it says, since authentication comes first; the bytes after
 * "Bearer " are well-formed exactly when they are the prefix and 43
 * base64url characters; a well-formed token stays well-formed with any
 * base64url character changed and stops being one with any other.
 */
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "fuzz.h"
#include "services/auth.h"

static const struct api_route *route(const char *method, const char *pattern)
{
	for (const struct api_route *r = api_routes; r->method; r++)
		if (strcmp(r->method, method) == 0 && strcmp(r->pattern, pattern) == 0)
			return r;
	CHECK(0, "no route %s %s", method, pattern);
	return NULL;
}

static bool b64url(char c)
{
	return strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", c) &&
	       c != '\0';
}

/* The reference: what the header says after "Bearer " and spaces, or NULL. */
static const char *token_of(const char *h)
{
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

static bool well_formed_ref(const char *t, size_t n)
{
	if (n != 53 || memcmp(t, "vault_pat_", 10) != 0)
		return false;
	for (size_t i = 10; i < n; i++)
		if (!b64url(t[i]))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *header = malloc(size + 1);
	CHECK(header, "out of memory");
	memcpy(header, data, size);
	header[size] = '\0'; /* a header stops at its first NUL, as libmicrohttpd hands it on */

	struct verror err;
	struct api_req req = {.err = &err};
	const char *t = token_of(header);
	bool pat = t && strncmp(t, "vault_pat_", 10) == 0;
	enum verr rc = api_authorize(route("POST", "/api/v1/auth/login"), &req, header);
	CHECK((rc == VERR_FORBIDDEN) == pat, "login with \"%s\": %d", header, rc);
	rc = api_authorize(route("DELETE", "/api/v1/tokens/{id}"), &req, header);
	CHECK((rc == VERR_FORBIDDEN) == pat, "revoke with \"%s\": %d", header, rc);
	CHECK(api_authorize(route("POST", "/api/v1/notes"), &req, header) == VERR_OK,
	      "a note route refused \"%s\" before authentication", header);

	if (t) {
		size_t n = strlen(t);
		bool ok = auth_token_well_formed(t, n);
		CHECK(ok == well_formed_ref(t, n), "well-formed(\"%s\") = %d", t, ok);
		if (ok && size > 0) {
			char *copy = strdup(t);
			CHECK(copy, "out of memory");
			size_t pos = 10 + data[0] % 43;
			char c = (char)data[size - 1];
			copy[pos] = c;
			CHECK(auth_token_well_formed(copy, n) == (c != '\0' && b64url(c)),
			      "\"%s\" with byte %zu as %#x", t, pos, (unsigned char)c);
			free(copy);
		}
	}
	free(header);
	return 0;
}
