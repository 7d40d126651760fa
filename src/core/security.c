/*
 * security.c - bcrypt via libcrypt, JWT via libjwt, randomness and SHA-256.
 */
#include "core/security.h"

#include <crypt.h>
#include <errno.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/mem.h"

static void fill_random(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			perror("vault: getrandom");
			abort();
		}
		p += got;
		n -= (size_t)got;
	}
}

enum verr password_hash(const char *password, int rounds, char out[PASSWORD_HASH_MAX],
                        struct verror *err)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn("$2b$", (unsigned long)rounds, NULL, 0, salt, sizeof(salt)))
		return verr_set(err, VERR_INTERNAL, "bcrypt salt generation failed");
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	enum verr rc = VERR_OK;
	const char *h = crypt_r(password, salt, cd);
	if (!h || h[0] == '*' || strlen(h) >= PASSWORD_HASH_MAX)
		rc = verr_set(err, VERR_INTERNAL, "bcrypt hashing failed");
	else
		strcpy(out, h);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

bool password_verify(const char *password, const char *hash)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = crypt_r(password, hash, cd);
	bool ok = h && h[0] != '*' && secure_equal(h, hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

char *jwt_issue(const char *key, int64_t user_id, int64_t now_s, int64_t ttl_s)
{
	jwt_t *jwt = NULL;
	char *out = NULL;
	char sub[24];
	snprintf(sub, sizeof(sub), "%lld", (long long)user_id);
	if (jwt_new(&jwt) != 0)
		abort();
	if (jwt_add_grant(jwt, "sub", sub) == 0 &&
	    jwt_add_grant_int(jwt, "iat", (long)now_s) == 0 &&
	    jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) == 0 &&
	    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)key, (int)strlen(key)) == 0)
		out = jwt_encode_str(jwt);
	jwt_free(jwt);
	if (!out)
		abort(); /* only allocation can fail here */
	return out;
}

enum verr jwt_verify(const char *key, const char *token, int64_t now_s, int64_t *user_id,
                     int64_t *exp_s)
{
	jwt_t *jwt = NULL;
	enum verr rc = VERR_UNAUTHORIZED;
	if (jwt_decode(&jwt, token, (const unsigned char *)key, (int)strlen(key)) != 0)
		goto out;
	/* libjwt accepts alg "none" when it is in the token: we take HS256 only. */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	errno = 0;
	long exp = jwt_get_grant_int(jwt, "exp");
	if (errno != 0 || exp <= now_s)
		goto out;
	const char *sub = jwt_get_grant(jwt, "sub");
	if (!sub || !*sub || strlen(sub) > 18)
		goto out;
	int64_t id = 0;
	for (const char *p = sub; *p; p++) {
		if (*p < '0' || *p > '9')
			goto out;
		id = id * 10 + (*p - '0');
	}
	if (id <= 0)
		goto out;
	*user_id = id;
	if (exp_s)
		*exp_s = exp;
	rc = VERR_OK;
out:
	jwt_free(jwt);
	return rc;
}

char *random_token(size_t nbytes)
{
	unsigned char *raw = xmalloc(nbytes);
	fill_random(raw, nbytes);
	size_t cap = 4 * ((nbytes + 2) / 3) + 1;
	char *out = xmalloc(cap);
	EVP_EncodeBlock((unsigned char *)out, raw, (int)nbytes);
	/* Standard base64 to the URL-safe alphabet, padding dropped. */
	for (char *p = out; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=') {
			*p = '\0';
			break;
		}
	}
	free(raw);
	return out;
}

void random_hex(char *out, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char *raw = xmalloc(nbytes);
	fill_random(raw, nbytes);
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
	free(raw);
}

void sha256_hex(const char *s, char out[SHA256_HEX_LEN])
{
	sha256_hex_n(s, strlen(s), out);
}

void sha256_hex_n(const void *s, size_t n, char out[SHA256_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!EVP_Digest(s, n, md, &len, EVP_sha256(), NULL))
		abort();
	for (unsigned i = 0; i < len && i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

bool secure_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}
