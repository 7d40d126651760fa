/*
 * jwt.c - fuzz target: access tokens (core/security.c, jwt_verify over
 * libjwt), as every authenticated request presents one.
 *
 * Input: byte 0 picks the test. Even: the rest is a token, checked at a
 * fixed time with the key of this file; if it verifies, it must be exactly
 * header.payload.signature with HS256 in the header and the signature our
 * HMAC-SHA256 of header.payload in canonical base64url: the fuzzer cannot
 * sign, so only the seed tokens and changes that leave a token's meaning
 * intact could pass, and none may (no second spelling of a signature, no
 * trailing bytes, no other algorithm). Odd: a token is issued for a user id,
 * a time to live and a clock skew from the input; it verifies, for that
 * user, exactly when the id is a positive number of up to 18 digits and the
 * token has not expired; then one byte at a position from the input is
 * changed to a value from the input, and the changed token never verifies.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "core/security.h"
#include "fuzz.h"

/* The seeds in fuzz/corpus/jwt were issued with this key at this time. */
#define KEY "fuzz-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
#define NOW INT64_C(1700000000)

static uint64_t take_u64(struct input *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | take_byte(in);
	return v;
}

/* Base64url of s[0..n) without padding into out (4 * n / 3 + 4 bytes). */
static void base64url(const unsigned char *s, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, s, (int)n);
	for (char *p = out; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=')
			*p = '\0';
	}
}

/* Whether the header (base64url, len bytes) decodes to JSON whose alg is HS256. */
static bool header_is_hs256(const char *h, size_t len)
{
	char *b64 = malloc(len + 4);
	unsigned char *raw = malloc(len + 4);
	CHECK(b64 && raw, "out of memory");
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		b64[n++] = h[i] == '-' ? '+' : h[i] == '_' ? '/' : h[i];
	while (n % 4)
		b64[n++] = '=';
	int got = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)n);
	bool ok = false;
	if (got >= 0) {
		size_t rn = (size_t)got;
		while (rn > 0 && raw[rn - 1] == '\0') /* the decoder's padding bytes */
			rn--;
		json_t *j = json_loadb((const char *)raw, rn, 0, NULL);
		const char *alg = json_string_value(json_object_get(j, "alg"));
		ok = alg && strcmp(alg, "HS256") == 0;
		json_decref(j);
	}
	free(b64);
	free(raw);
	return ok;
}

/* A token that verified: exactly header.payload.<our signature of them>. */
static void check_canonical(const char *token)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	CHECK(dot2, "a token without three parts verified: %s", token);
	size_t signed_len = (size_t)(dot2 - token);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	CHECK(HMAC(EVP_sha256(), KEY, (int)strlen(KEY), (const unsigned char *)token, signed_len,
	           mac, &mac_len),
	      "HMAC failed");
	char sig[2 * EVP_MAX_MD_SIZE];
	base64url(mac, mac_len, sig);
	CHECK(strcmp(dot2 + 1, sig) == 0, "a token verified with another signature: %s", token);
	CHECK(header_is_hs256(token, (size_t)(dot1 - token)), "a token not HS256 verified: %s",
	      token);
}

static void any_token(const uint8_t *data, size_t size)
{
	char *token = malloc(size + 1);
	CHECK(token, "out of memory");
	memcpy(token, data, size);
	token[size] = '\0';
	int64_t id = 0;
	if (jwt_verify(KEY, token, NOW, &id, NULL) == VERR_OK) {
		CHECK(id > 0, "verified for user %lld", (long long)id);
		check_canonical(token);
	}
	free(token);
}

static void changed_token(struct input *in)
{
	int64_t id = (int64_t)take_u64(in);
	int64_t ttl = (int64_t)(take_u64(in) % 200000) - 100000;
	int64_t skew = (int64_t)(take_u64(in) % 200000) - 100000; /* issued this long before NOW */
	size_t pos = (size_t)take_u64(in);
	char value = (char)take_byte(in);

	char *token = jwt_issue(KEY, id, NOW - skew, ttl);
	int64_t got = 0;
	bool want = id > 0 && id < INT64_C(1000000000000000000) && NOW - skew + ttl > NOW;
	bool ok = jwt_verify(KEY, token, NOW, &got, NULL) == VERR_OK;
	CHECK(ok == want, "user %lld, ttl %lld, skew %lld: verified %d", (long long)id,
	      (long long)ttl, (long long)skew, ok);
	CHECK(!ok || got == id, "issued for %lld, verified for %lld", (long long)id,
	      (long long)got);

	size_t len = strlen(token);
	pos %= len;
	if (token[pos] != value) {
		char was = token[pos];
		token[pos] = value;
		CHECK(jwt_verify(KEY, token, NOW, &got, NULL) != VERR_OK,
		      "byte %zu of %zu changed from %#x to %#x and the token still verified", pos,
		      len, (unsigned char)was, (unsigned char)value);
	}
	free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	if (take_byte(&in) & 1)
		changed_token(&in);
	else
		any_token(in.p, in.n);
	return 0;
}
