/*
 * auth.h - accounts, logins and tokens.
 *
 * Access tokens are short-lived JWTs that need no shared state; refresh
 * tokens are random strings kept hashed, rotated on every use, and a reused
 * one revokes its whole login (family).
 */
#ifndef VAULT_SERVICES_AUTH_H
#define VAULT_SERVICES_AUTH_H

#include "services/services.h"

#define AUTH_PASSWORD_MIN 8

struct auth_tokens {
	char *access_token; /* caller frees via auth_tokens_free */
	char *refresh_token;
	int64_t expires_in; /* seconds */
};

void auth_tokens_free(struct auth_tokens *t);

/*
 * Creates an account. The e-mail is checked and case-folded; the password
 * must be 8-72 bytes. VERR_INVALID on bad input, VERR_CONFLICT if the e-mail
 * is taken. *out never carries the hash past this layer's callers' needs.
 */
enum verr auth_register(struct svc *svc, const char *email, const char *password, struct user *out,
                        struct verror *err);

/* VERR_UNAUTHORIZED "Invalid credentials" for an unknown e-mail or a wrong password. */
enum verr auth_login(struct svc *svc, const char *email, const char *password,
                     struct auth_tokens *out, struct verror *err);

/* Rotates a refresh token: new access and refresh tokens, or VERR_UNAUTHORIZED. */
enum verr auth_refresh(struct svc *svc, const char *refresh_token, struct auth_tokens *out,
                       struct verror *err);

/* Revokes the login holding refresh_token, or every login of the user if NULL. */
enum verr auth_logout(struct svc *svc, int64_t user_id, const char *refresh_token,
                      struct verror *err);

/* Who a bearer token speaks for. */
struct auth_caller {
	int64_t user_id;
	int64_t token_id; /* the personal access token's id; 0 for a login's access token */
	bool read_only;   /* a personal access token of scope "read" */
};

/* The cache of verified access tokens auth_authenticate keeps in svc->tokens. */
struct lru *auth_token_cache_new(void);

/*
 * Checks a bearer token: a login's access token (a JWT whose user still
 * exists) or a personal access token (vault_pat_..., unexpired and not
 * revoked). VERR_UNAUTHORIZED otherwise; fills *out.
 */
enum verr auth_authenticate(struct svc *svc, const char *token, struct auth_caller *out,
                            struct verror *err);

/*
 * Personal access tokens: AUTH_TOKEN_PREFIX then AUTH_TOKEN_SECRET_LEN
 * characters of base64url, 32 bytes of OS randomness, so a secret scanner
 * can tell a leaked one by its prefix. Only their SHA-256 is stored.
 */
#define AUTH_TOKEN_PREFIX     "vault_pat_"
#define AUTH_TOKEN_SECRET_LEN 43
#define AUTH_TOKEN_LEN        (sizeof(AUTH_TOKEN_PREFIX) - 1 + AUTH_TOKEN_SECRET_LEN)
#define AUTH_TOKENS_MAX       50   /* per user */
#define AUTH_TOKEN_DAYS_MAX   3650 /* expires_in_days */
/* last_used_at moves at most this often, so a busy token is not a write per request. */
#define AUTH_TOKEN_TOUCH_MS 60000

/* Whether the n bytes at s have the form of a personal access token (not whether it is valid). */
bool auth_token_well_formed(const char *s, size_t n);

/* Whether a bearer token is meant as a personal access token (has the prefix). */
bool auth_token_is_pat(const char *s);

/*
 * Creates a personal access token for user_id: name 1-100 bytes of UTF-8
 * without control characters, expires_in_days 0 (never) or 1 to
 * AUTH_TOKEN_DAYS_MAX. VERR_INVALID on bad input, VERR_FORBIDDEN past
 * AUTH_TOKENS_MAX. *secret is the token, which exists nowhere else: caller
 * shows it once, then wipes and frees it.
 */
enum verr auth_token_create(struct svc *svc, int64_t user_id, const char *name, bool write,
                            int64_t expires_in_days, struct api_token *out, char **secret,
                            struct verror *err);

/* The user's tokens, oldest first; caller frees *out. */
enum verr auth_token_list(struct svc *svc, int64_t user_id, struct api_token **out, size_t *n,
                          struct verror *err);

/* Revokes (deletes) one of the user's tokens at once; VERR_NOT_FOUND if not theirs. */
enum verr auth_token_revoke(struct svc *svc, int64_t user_id, int64_t id, struct verror *err);

enum verr auth_user_get(struct svc *svc, int64_t user_id, struct user *out, struct verror *err);

/* Deletes the account with all its notes and tokens, personal access tokens included. */
enum verr auth_user_delete(struct svc *svc, int64_t user_id, struct verror *err);

/* Every user, by id; caller frees *out. */
enum verr auth_user_list(struct svc *svc, struct user **out, size_t *n, struct verror *err);

/* Finds a user by e-mail (case-folded first). */
enum verr auth_user_find(struct svc *svc, const char *email, struct user *out, struct verror *err);

/*
 * Checks e-mail syntax and writes its case-folded form into out
 * (STORE_EMAIL_MAX + 1 bytes). VERR_INVALID with a reason otherwise.
 */
enum verr auth_normalize_email(const char *email, char out[STORE_EMAIL_MAX + 1],
                               struct verror *err);

/* 8-72 bytes, valid UTF-8, no NUL. */
enum verr auth_check_password(const char *password, struct verror *err);

#endif
