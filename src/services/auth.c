/*
 * auth.c - registration, login, token rotation and account deletion.
 */
#include "services/auth.h"

#include <stdlib.h>
#include <string.h>

#include "core/lane.h"
#include "core/log.h"
#include "core/lru.h"
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

/* ------------------------------------------------------------ bearer tokens */

#define TOKEN_CACHE_SLOTS 512 /* access tokens whose signature was checked lately */

static bool base64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool auth_token_well_formed(const char *s, size_t n)
{
	size_t plen = sizeof(AUTH_TOKEN_PREFIX) - 1;
	if (n != AUTH_TOKEN_LEN || memcmp(s, AUTH_TOKEN_PREFIX, plen) != 0)
		return false;
	for (size_t i = plen; i < n; i++)
		if (!base64url_char(s[i]))
			return false;
	return true;
}

bool auth_token_is_pat(const char *s)
{
	return strncmp(s, AUTH_TOKEN_PREFIX, sizeof(AUTH_TOKEN_PREFIX) - 1) == 0;
}

/*
 * A personal access token is looked up by its SHA-256. A fast hash is right
 * here, unlike for passwords: the secret is 256 random bits, so there is no
 * dictionary to try and nothing for bcrypt's cost to slow down, and a
 * lookup by an exact hash needs a deterministic one. Nor does the lookup
 * need a constant-time comparison: the database compares hashes, and how
 * long it takes tells an attacker about hashes of secrets, which they
 * cannot steer toward a valid one's without a preimage of SHA-256.
 */
static enum verr pat_authenticate(struct svc *svc, const char *token, struct auth_caller *out,
                                  struct verror *err)
{
	static const char invalid_pat[] = "Invalid, expired or revoked personal access token";
	char hash[SHA256_HEX_LEN];
	struct api_token t;
	int64_t now = time_now_ms();
	if (!auth_token_well_formed(token, strlen(token)))
		return verr_set(err, VERR_UNAUTHORIZED, invalid_pat);
	sha256_hex(token, hash);
	enum verr rc = store_api_token_find(svc->store, hash, now, &t, err);
	if (rc == VERR_NOT_FOUND)
		return verr_set(err, VERR_UNAUTHORIZED, invalid_pat);
	if (rc)
		return rc;
	if (t.last_used_at <= now - AUTH_TOKEN_TOUCH_MS) {
		/* Only a record for its owner: a failure to keep it must not fail the request. */
		struct verror terr = {0};
		if (store_api_token_touch(svc->store, t.id, now, AUTH_TOKEN_TOUCH_MS, &terr))
			log_emit(LOG_WARNING, "api_token_touch_failed",
			         json_pack("{s:I,s:s}", "token_id", (json_int_t)t.id, "detail",
			                   verr_detail(&terr)));
	}
	*out = (struct auth_caller){.user_id = t.user_id, .token_id = t.id, .read_only = !t.write};
	return VERR_OK;
}

/*
 * An access token verified lately, under its SHA-256 (not the bearer secret
 * itself): libjwt's decode and HMAC cost more than the rest of reading a
 * note. Its expiry is checked again at each use, and the user must still
 * exist, as for a token verified afresh.
 */
struct verified {
	int64_t user_id, exp_s;
};

struct lru *auth_token_cache_new(void)
{
	return lru_new(TOKEN_CACHE_SLOTS, sizeof(struct verified));
}

enum verr auth_authenticate(struct svc *svc, const char *token, struct auth_caller *out,
                            struct verror *err)
{
	struct user u;
	int64_t id;
	memset(out, 0, sizeof(*out));
	if (auth_token_is_pat(token))
		return pat_authenticate(svc, token, out, err);
	char hash[SHA256_HEX_LEN];
	struct verified v;
	int64_t now_s = time_now_ms() / 1000;
	sha256_hex(token, hash);
	if (!lru_get(svc->tokens, 0, hash, &v) || v.exp_s <= now_s) {
		if (jwt_verify(svc->cfg->secret_key, token, now_s, &v.user_id, &v.exp_s))
			return verr_set(err, VERR_UNAUTHORIZED, invalid_token);
		lru_put(svc->tokens, 0, hash, &v);
	}
	id = v.user_id;
	enum verr rc = store_user_get(svc->store, id, &u, err);
	if (rc == VERR_NOT_FOUND)
		return verr_set(err, VERR_UNAUTHORIZED, invalid_token);
	if (rc == VERR_OK)
		out->user_id = id;
	return rc;
}

enum verr auth_token_create(struct svc *svc, int64_t user_id, const char *name, bool write,
                            int64_t expires_in_days, struct api_token *out, char **secret,
                            struct verror *err)
{
	char hash[SHA256_HEX_LEN];
	size_t n = strlen(name);
	*secret = NULL;
	if (n == 0 || n > STORE_API_TOKEN_NAME_MAX)
		return verr_set(err, VERR_INVALID, "name: must be 1-%d bytes",
		                STORE_API_TOKEN_NAME_MAX);
	if (!text_utf8_valid(name, n) || text_has_control(name, false))
		return verr_set(err, VERR_INVALID,
		                "name: must be valid UTF-8 without control characters");
	if (expires_in_days < 0 || expires_in_days > AUTH_TOKEN_DAYS_MAX)
		return verr_set(err, VERR_INVALID,
		                "expires_in_days: must be a whole number from 1 to %d, or left out "
		                "for a token that never expires",
		                AUTH_TOKEN_DAYS_MAX);
	int64_t now = time_now_ms();
	char *random = random_token(32);
	char *token = xasprintf(AUTH_TOKEN_PREFIX "%s", random);
	explicit_bzero(random, strlen(random));
	free(random);
	sha256_hex(token, hash);
	enum verr rc = store_api_token_create(
	    svc->store, user_id, name, write, hash,
	    expires_in_days ? now + expires_in_days * 86400000 : 0, now, AUTH_TOKENS_MAX, out, err);
	if (rc) {
		explicit_bzero(token, strlen(token));
		free(token);
		return rc == VERR_NOT_FOUND ? verr_set(err, VERR_UNAUTHORIZED, invalid_token) : rc;
	}
	*secret = token;
	log_emit(LOG_INFO, "api_token_created",
	         json_pack("{s:I,s:I,s:s}", "user_id", (json_int_t)user_id, "token_id",
	                   (json_int_t)out->id, "scope", write ? "write" : "read"));
	return VERR_OK;
}

enum verr auth_token_list(struct svc *svc, int64_t user_id, struct api_token **out, size_t *n,
                          struct verror *err)
{
	return store_api_token_list(svc->store, user_id, out, n, err);
}

enum verr auth_token_revoke(struct svc *svc, int64_t user_id, int64_t id, struct verror *err)
{
	enum verr rc = store_api_token_delete(svc->store, user_id, id, err);
	if (rc == VERR_OK)
		log_emit(LOG_INFO, "api_token_revoked",
		         json_pack("{s:I,s:I}", "user_id", (json_int_t)user_id, "token_id",
		                   (json_int_t)id));
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
