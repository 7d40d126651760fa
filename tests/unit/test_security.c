/*
 * test_security.c - bcrypt hashing and every way an access token is refused.
 */
#include <criterion/criterion.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#include "core/security.h"

static const char key[] = "0123456789abcdef0123456789abcdef-test-key";
static const int64_t now = 1800000000;

Test(password, hash_is_bcrypt_2b_with_cost_and_verifies)
{
	char h[PASSWORD_HASH_MAX];
	cr_assert_eq(password_hash("correct horse", 5, h, NULL), VERR_OK);
	cr_assert_eq(strncmp(h, "$2b$05$", 7), 0, "got %s", h);
	cr_assert_eq(strlen(h), 60);
	cr_assert(password_verify("correct horse", h));
	cr_assert_not(password_verify("correct horsE", h));
	cr_assert_not(password_verify("", h));
}

Test(password, same_password_gets_different_salts)
{
	char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
	cr_assert_eq(password_hash("same password", 4, a, NULL), VERR_OK);
	cr_assert_eq(password_hash("same password", 4, b, NULL), VERR_OK);
	cr_assert_str_neq(a, b);
}

Test(password, garbage_hash_never_verifies)
{
	cr_assert_not(password_verify("anything", "not-a-hash"));
	cr_assert_not(password_verify("anything", ""));
}

static char *mint(jwt_alg_t alg, const char *k, const char *sub, long iat, long exp)
{
	jwt_t *jwt;
	cr_assert_eq(jwt_new(&jwt), 0);
	if (sub)
		jwt_add_grant(jwt, "sub", sub);
	if (iat)
		jwt_add_grant_int(jwt, "iat", iat);
	if (exp)
		jwt_add_grant_int(jwt, "exp", exp);
	cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)k, k ? (int)strlen(k) : 0), 0);
	char *t = jwt_encode_str(jwt);
	jwt_free(jwt);
	cr_assert_not_null(t);
	return t;
}

Test(jwt, issued_token_verifies_with_claims)
{
	char *t = jwt_issue(key, 42, now, 1800);
	int64_t uid = 0;
	cr_assert_eq(jwt_verify(key, t, now + 10, &uid, NULL), VERR_OK);
	cr_assert_eq(uid, 42);

	jwt_t *jwt;
	cr_assert_eq(jwt_decode(&jwt, t, (const unsigned char *)key, (int)strlen(key)), 0);
	cr_assert_eq(jwt_get_alg(jwt), JWT_ALG_HS256);
	cr_assert_str_eq(jwt_get_grant(jwt, "sub"), "42");
	cr_assert_eq(jwt_get_grant_int(jwt, "iat"), now);
	cr_assert_eq(jwt_get_grant_int(jwt, "exp"), now + 1800);
	jwt_free(jwt);
	free(t);
}

Test(jwt, expired_token_refused)
{
	char *t = jwt_issue(key, 7, now, 60);
	int64_t uid = 0;
	cr_assert_eq(jwt_verify(key, t, now + 59, &uid, NULL), VERR_OK);
	cr_assert_eq(jwt_verify(key, t, now + 60, &uid, NULL), VERR_UNAUTHORIZED);
	cr_assert_eq(jwt_verify(key, t, now + 3600, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
}

Test(jwt, other_key_refused)
{
	char *t = jwt_issue("another-key-another-key-another-key!", 7, now, 60);
	int64_t uid = 0;
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
}

Test(jwt, tampered_payload_refused)
{
	char *t = jwt_issue(key, 7, now, 60);
	/* Flip one character of the payload (between the two dots). */
	char *p = strchr(t, '.') + 3;
	*p = *p == 'A' ? 'B' : 'A';
	int64_t uid = 0;
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
}

Test(jwt, alg_none_refused)
{
	char *t = mint(JWT_ALG_NONE, NULL, "7", now, now + 60);
	int64_t uid = 0;
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
}

Test(jwt, hs512_with_our_key_refused)
{
	char *t = mint(JWT_ALG_HS512, key, "7", now, now + 60);
	int64_t uid = 0;
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
}

Test(jwt, rs256_header_refused)
{
	/* {"alg":"RS256","typ":"JWT"} . {"sub":"7","exp":9999999999} . junk */
	const char *t = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
	                "eyJzdWIiOiI3IiwiZXhwIjo5OTk5OTk5OTk5fQ.c2lnbmF0dXJl";
	int64_t uid = 0;
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
}

Test(jwt, bad_claims_refused)
{
	int64_t uid = 0;
	char *t;
	t = mint(JWT_ALG_HS256, key, NULL, now, now + 60); /* no sub */
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
	t = mint(JWT_ALG_HS256, key, "abc", now, now + 60); /* non-numeric sub */
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
	t = mint(JWT_ALG_HS256, key, "0", now, now + 60); /* no such id */
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
	t = mint(JWT_ALG_HS256, key, "7", now, 0); /* no exp */
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_UNAUTHORIZED);
	free(t);
	t = mint(JWT_ALG_HS256, key, "7", now, now + 60); /* control: valid */
	cr_assert_eq(jwt_verify(key, t, now, &uid, NULL), VERR_OK);
	cr_assert_eq(uid, 7);
	free(t);
}

Test(jwt, malformed_strings_refused)
{
	const char *bad[] = {"", ".", "..", "abc", "a.b", "a.b.c", "a.b.c.d", "Bearer x"};
	int64_t uid = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(jwt_verify(key, bad[i], now, &uid, NULL), VERR_UNAUTHORIZED, "%s",
		             bad[i]);
}

Test(random, tokens_are_urlsafe_and_distinct)
{
	char *a = random_token(32), *b = random_token(32);
	cr_assert_eq(strlen(a), 43);
	cr_assert_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
	             strlen(a));
	cr_assert_str_neq(a, b);
	free(a);
	free(b);
}

Test(sha256, known_vector)
{
	char out[SHA256_HEX_LEN];
	sha256_hex("abc", out);
	cr_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(secure_equal, compares)
{
	cr_assert(secure_equal("abc", "abc"));
	cr_assert_not(secure_equal("abc", "abd"));
	cr_assert_not(secure_equal("abc", "abcd"));
}
