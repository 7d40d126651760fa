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

/* Checks a bearer token and that its user still exists; sets *user_id. */
enum verr auth_authenticate(struct svc *svc, const char *token, int64_t *user_id,
                            struct verror *err);

enum verr auth_user_get(struct svc *svc, int64_t user_id, struct user *out, struct verror *err);

/* Deletes the account with all its notes and tokens. */
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
