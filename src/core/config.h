/*
 * config.h - typed settings from the environment and an optional .env file.
 *
 * Loaded once at start-up and validated: a bad value is an error that names
 * the variable, what is wrong and the expected form, never the value of a
 * secret. The environment wins over .env; unknown variables are ignored.
 */
#ifndef VAULT_CORE_CONFIG_H
#define VAULT_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/log.h"

enum environment { ENV_DEVELOPMENT, ENV_PRODUCTION };

struct config {
	enum environment environment;    /* ENVIRONMENT: development|production */
	bool debug;                      /* DEBUG: true|false|1|0|yes|no|on|off */
	char *host;                      /* HOST: default 127.0.0.1 */
	int port;                        /* PORT: 0-65535 (0 = any free port), default 8000 */
	char *database_url;              /* DATABASE_URL: default sqlite:///./data/vault.db */
	bool database_echo;              /* DATABASE_ECHO: log every SQL statement */
	char *secret_key;                /* SECRET_KEY: >= 32 characters */
	bool secret_key_generated;       /* true when development made one up for this run */
	int access_token_expire_minutes; /* ACCESS_TOKEN_EXPIRE_MINUTES: 1-1440, default 30 */
	int refresh_token_expire_days;   /* REFRESH_TOKEN_EXPIRE_DAYS: 1-365, default 14 */
	int bcrypt_rounds;               /* BCRYPT_ROUNDS: 4-31, default 12 */
	char **allowed_origins;          /* ALLOWED_ORIGINS: comma-separated, NULL-terminated */
	size_t n_allowed_origins;
	enum log_level log_level;   /* LOG_LEVEL: debug|info|warning|error, default info */
	enum log_format log_format; /* LOG_FORMAT: json|console, default json */
	size_t max_body_bytes;      /* MAX_BODY_BYTES: 1024-67108864, default 2097152 */
	int idle_timeout_seconds;   /* IDLE_TIMEOUT_SECONDS: 1-3600, default 30 */
};

/*
 * Fills cfg from envp (a NULL-terminated environ-style array) over the
 * KEY=VALUE lines of dotenv_path (NULL or a missing file: no .env). Returns
 * VERR_INVALID with a one-line detail naming the variable on a bad value, and
 * leaves nothing to free in that case. On success the caller calls
 * config_free().
 */
enum verr config_load(struct config *cfg, char *const *envp, const char *dotenv_path,
                      struct verror *err);

void config_free(struct config *cfg);

/* Whether origin is in ALLOWED_ORIGINS (or it holds "*"). */
bool config_origin_allowed(const struct config *cfg, const char *origin);

#endif
