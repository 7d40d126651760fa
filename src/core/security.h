/*
 * security.h - password hashing, access tokens and randomness.
 *
 * Passwords: bcrypt ($2b$) through libcrypt. Access tokens: JWT HS256
 * through libjwt, accepting nothing but HS256 signed with our key. Refresh
 * tokens are opaque random strings, stored only as SHA-256 hashes.
 */
#ifndef VAULT_CORE_SECURITY_H
#define VAULT_CORE_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PASSWORD_HASH_MAX  128
#define PASSWORD_MAX_BYTES 72 /* bcrypt ignores what follows */
#define SHA256_HEX_LEN     65 /* with the NUL */

/* bcrypt hash of password at cost rounds into out; VERR_INTERNAL on failure. */
enum verr password_hash(const char *password, int rounds, char out[PASSWORD_HASH_MAX],
                        struct verror *err);

/* Whether password matches hash; compares in constant time. */
bool password_verify(const char *password, const char *hash);

/* A signed access token for user_id, valid ttl_s seconds from now_s; caller frees. */
char *jwt_issue(const char *key, int64_t user_id, int64_t now_s, int64_t ttl_s);

/*
 * Verifies an access token: HS256 only, our signature, exp in the future,
 * a numeric string sub. Sets *user_id and, unless it is NULL, *exp_s.
 * VERR_UNAUTHORIZED otherwise.
 */
enum verr jwt_verify(const char *key, const char *token, int64_t now_s, int64_t *user_id,
                     int64_t *exp_s);

/* nbytes of OS randomness as URL-safe base64 (no padding) into out; caller frees. */
char *random_token(size_t nbytes);

/* nbytes of OS randomness as lower-case hex into out (2*nbytes+1 bytes). */
void random_hex(char *out, size_t nbytes);

/* Hex SHA-256 of s, and of the n bytes at s (which may hold NULs). */
void sha256_hex(const char *s, char out[SHA256_HEX_LEN]);
void sha256_hex_n(const void *s, size_t n, char out[SHA256_HEX_LEN]);

/* Constant-time equality of two NUL-terminated strings of public length. */
bool secure_equal(const char *a, const char *b);

#endif
