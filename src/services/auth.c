/*
 * auth.c - registration, login, token rotation and account deletion.
 */
#include "services/auth.h"

#include <stdlib.h>
#include <string.h>

#include "core/lane.h"
#include "core/mem.h"
#include "core/ratelimit.h"
#include "core/text.h"
#include "core/timeutil.h"

#define REFRESH_TOKEN_BYTES 32
#define FAMILY_BYTES        16

static const char invalid_credentials[] = "Invalid credentials";
static const char invalid_token[] = "Invalid or expired token";

void auth_tokens_free(struct auth_tokens *t)
{
	if (!t)
		return;
	free(t->access_token);
	if (t->refresh_token) {
		explicit_bzero(t->refresh_token, strlen(t->refresh_token));
		free(t->refresh_token);
	}
	memset(t, 0, sizeof(*t));
}

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool local_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+/=?^_`{|}~.-", c);
}

enum verr auth_normalize_email(const char *email, char out[STORE_EMAIL_MAX + 1], struct verror *err)
{
	static const char bad[] = "email: not a valid e-mail address";
	size_t n = strlen(email);
	if (n < 3 || n > STORE_EMAIL_MAX)
		return verr_set(err, VERR_INVALID, "email: must be 3-%d characters",
		                STORE_EMAIL_MAX);
	for (size_t i = 0; i <= n; i++) {
		char c = email[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	const char *at = strchr(out, '@');
	if (!at || strchr(at + 1, '@'))
		return verr_set(err, VERR_INVALID, "%s", bad);
	size_t local_len = (size_t)(at - out);
	if (local_len == 0 || local_len > 64 || out[0] == '.' || out[local_len - 1] == '.')
		return verr_set(err, VERR_INVALID, "%s", bad);
	for (size_t i = 0; i < local_len; i++)
		if (!local_char(out[i]) || (out[i] == '.' && out[i + 1] == '.'))
			return verr_set(err, VERR_INVALID, "%s", bad);

	/* Domain: two or more labels of letters, digits and inner hyphens. */
	const char *d = at + 1;
	int labels = 0;
	const char *last = d;
	while (*d) {
		const char *start = d;
		while (*d && *d != '.') {
			if (!label_char(*d))
				return verr_set(err, VERR_INVALID, "%s", bad);
			d++;
		}
		size_t len = (size_t)(d - start);
		if (len == 0 || len > 63 || start[0] == '-' || start[len - 1] == '-')
			return verr_set(err, VERR_INVALID, "%s", bad);
		labels++;
		last = start;
		if (*d == '.')
			d++;
		if (*d == '\0' && d[-1] == '.')
			return verr_set(err, VERR_INVALID, "%s", bad);
	}
	if (labels < 2 || strspn(last, "0123456789") == strlen(last))
		return verr_set(err, VERR_INVALID, "%s", bad);
	return VERR_OK;
}

enum verr auth_check_password(const char *password, struct verror *err)
{
	size_t n = strlen(password);
	if (n < AUTH_PASSWORD_MIN)
		return verr_set(err, VERR_INVALID, "password: must be at least %d bytes",
		                AUTH_PASSWORD_MIN);
	if (n > PASSWORD_MAX_BYTES)
		return verr_set(
		    err, VERR_INVALID,
		    "password: must be at most %d bytes (bcrypt's limit); this one is %zu",
		    PASSWORD_MAX_BYTES, n);
	if (!text_utf8_valid(password, n))
		return verr_set(err, VERR_INVALID, "password: must be valid UTF-8");
	return VERR_OK;
}

/* ------------------------------------------------------------ bcrypt on its lane */

struct bcrypt_job {
	const char *password, *hash; /* hash: to check against, or NULL to make one */
	int rounds;
	char *out; /* PASSWORD_HASH_MAX bytes for a new hash */
	bool ok;
	enum verr rc;
	struct verror *err;
};

static void bcrypt_job(void *arg)
{
	struct bcrypt_job *j = arg;
	if (j->hash)
		j->ok = password_verify(j->password, j->hash);
	else
		j->rc = password_hash(j->password, j->rounds, j->out, j->err);
}

/* Runs j on svc's bcrypt lane; 503 with Retry-After when too many wait already. */
static enum verr run_bcrypt(struct svc *svc, struct bcrypt_job *j, struct verror *err)
{
	if (lane_run(svc->bcrypt, bcrypt_job, j))
		return verr_retry(err, VERR_UNAVAILABLE, 1,
		                  "Too many sign-ins at once: try again in a moment");
	return j->rc;
}

/* The timing dummy for unknown e-mails: hashed once, on first need. */
static enum verr dummy_hash(struct svc *svc, const char **out, struct verror *err)
{
	enum verr rc = VERR_OK;
	pthread_mutex_lock(&svc->dummy_mu);
	if (!svc->dummy_hash[0]) {
		struct bcrypt_job j = {.password = "vault-timing-equaliser",
		                       .rounds = svc->cfg->bcrypt_rounds,
		                       .out = svc->dummy_hash,
		                       .err = err};
		if ((rc = run_bcrypt(svc, &j, err)))
			svc->dummy_hash[0] = '\0';
	}
	pthread_mutex_unlock(&svc->dummy_mu);
	*out = svc->dummy_hash;
	return rc;
}

enum verr auth_register(struct svc *svc, const char *email, const char *password, struct user *out,
                        struct verror *err)
{
	char norm[STORE_EMAIL_MAX + 1];
	char hash[PASSWORD_HASH_MAX];
	enum verr rc;
	if ((rc = auth_normalize_email(email, norm, err)) ||
	    (rc = auth_check_password(password, err)))
		return rc;
	struct bcrypt_job j = {
	    .password = password, .rounds = svc->cfg->bcrypt_rounds, .out = hash, .err = err};
	if ((rc = run_bcrypt(svc, &j, err)))
		return rc;
	rc = store_user_create(svc->store, norm, hash, time_now_ms(), out, err);
	explicit_bzero(hash, sizeof(hash));
	if (rc == VERR_CONFLICT)
		return verr_set(err, VERR_CONFLICT, "Email already registered");
	return rc;
}

static void issue_access(struct svc *svc, int64_t user_id, struct auth_tokens *out)
{
	int64_t ttl = (int64_t)svc->cfg->access_token_expire_minutes * 60;
	out->access_token = jwt_issue(svc->cfg->secret_key, user_id, time_now_ms() / 1000, ttl);
	out->expires_in = ttl;
}

static int64_t refresh_expiry(const struct svc *svc, int64_t now)
{
	return now + (int64_t)svc->cfg->refresh_token_expire_days * 86400000;
}

enum verr auth_login(struct svc *svc, const char *email, const char *password,
                     struct auth_tokens *out, struct verror *err)
{
	char norm[STORE_EMAIL_MAX + 1];
	struct user u;
	enum verr rc = VERR_NOT_FOUND;
	memset(out, 0, sizeof(*out));
	bool valid = auth_normalize_email(email, norm, NULL) == VERR_OK;
	/* Guesses at one account are limited wherever they come from; whether it exists
	 * does not matter, so a 429 tells nothing about it. */
	int wait = ratelimit_take(svc->logins, valid ? norm : "", time_mono_ms());
	if (wait)
		return verr_retry(err, VERR_RATE_LIMITED, wait,
		                  "Too many sign-in attempts for this account: try again in %d s",
		                  wait);
	if (valid)
		rc = store_user_get_by_email(svc->store, norm, &u, err);
	if (rc != VERR_OK && rc != VERR_NOT_FOUND)
		return rc;
	/* Spend one bcrypt either way, so timing does not tell which e-mails exist. */
	struct bcrypt_job j = {.password = password};
	enum verr brc = VERR_OK;
	if (rc == VERR_OK)
		j.hash = u.password_hash;
	else
		brc = dummy_hash(svc, &j.hash, err);
	if (brc || (brc = run_bcrypt(svc, &j, err)))
		return brc;
	if (rc != VERR_OK || !j.ok || strlen(password) > PASSWORD_MAX_BYTES)
		return verr_set(err, VERR_UNAUTHORIZED, invalid_credentials);

	/* A login starts a new family of refresh tokens. */
	int64_t now = time_now_ms();
	char family[2 * FAMILY_BYTES + 1], hash[SHA256_HEX_LEN];
	random_hex(family, FAMILY_BYTES);
	out->refresh_token = random_token(REFRESH_TOKEN_BYTES);
	sha256_hex(out->refresh_token, hash);
	rc = store_token_insert(svc->store, u.id, family, hash, refresh_expiry(svc, now), now, err);
	if (rc) {
		auth_tokens_free(out);
		return rc;
	}
	issue_access(svc, u.id, out);
	return VERR_OK;
}

enum verr auth_refresh(struct svc *svc, const char *refresh_token, struct auth_tokens *out,
                       struct verror *err)
{
	char old_hash[SHA256_HEX_LEN], new_hash[SHA256_HEX_LEN];
	int64_t user_id = 0, now = time_now_ms();
	memset(out, 0, sizeof(*out));
	sha256_hex(refresh_token, old_hash);
	char *fresh = random_token(REFRESH_TOKEN_BYTES);
	sha256_hex(fresh, new_hash);
	enum verr rc =
	    store_token_rotate(svc->store, old_hash, new_hash, refresh_expiry(svc, now), now,
	                       svc->cfg->refresh_reuse_grace_seconds * 1000LL, &user_id, err);
	if (rc) {
		explicit_bzero(fresh, strlen(fresh));
		free(fresh);
		if (rc == VERR_UNAUTHORIZED)
			return verr_set(err, rc, "Invalid or expired refresh token");
		return rc;
	}
	out->refresh_token = fresh;
	issue_access(svc, user_id, out);
	return VERR_OK;
}

enum verr auth_logout(struct svc *svc, int64_t user_id, const char *refresh_token,
                      struct verror *err)
{
	int64_t now = time_now_ms();
	if (!refresh_token)
		return store_token_revoke_all(svc->store, user_id, now, err);
	char hash[SHA256_HEX_LEN];
	sha256_hex(refresh_token, hash);
	enum verr rc = store_token_revoke_family(svc->store, user_id, hash, now, err);
	/* Logging out of an unknown login is already done: say nothing about it. */
	return rc == VERR_NOT_FOUND ? verr_set(err, VERR_OK, NULL) : rc;
}

enum verr auth_authenticate(struct svc *svc, const char *token, int64_t *user_id,
                            struct verror *err)
{
	struct user u;
	int64_t id;
	if (jwt_verify(svc->cfg->secret_key, token, time_now_ms() / 1000, &id))
		return verr_set(err, VERR_UNAUTHORIZED, invalid_token);
	enum verr rc = store_user_get(svc->store, id, &u, err);
	if (rc == VERR_NOT_FOUND)
		return verr_set(err, VERR_UNAUTHORIZED, invalid_token);
	if (rc == VERR_OK)
		*user_id = id;
	return rc;
}

enum verr auth_user_get(struct svc *svc, int64_t user_id, struct user *out, struct verror *err)
{
	return store_user_get(svc->store, user_id, out, err);
}

enum verr auth_user_delete(struct svc *svc, int64_t user_id, struct verror *err)
{
	return store_user_delete(svc->store, user_id, err);
}

enum verr auth_user_list(struct svc *svc, struct user **out, size_t *n, struct verror *err)
{
	return store_user_list(svc->store, out, n, err);
}

enum verr auth_user_find(struct svc *svc, const char *email, struct user *out, struct verror *err)
{
	char norm[STORE_EMAIL_MAX + 1];
	enum verr rc = auth_normalize_email(email, norm, err);
	if (rc)
		return rc;
	rc = store_user_get_by_email(svc->store, norm, out, err);
	if (rc == VERR_NOT_FOUND)
		return verr_set(err, rc, "No user with that email");
	return rc;
}
