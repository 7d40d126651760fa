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
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/log.h"

enum environment { ENV_DEVELOPMENT, ENV_PRODUCTION };
enum embedding_provider { EMBED_LOCAL, EMBED_HASH, EMBED_OPENAI };
enum llm_provider { LLM_NONE, LLM_OPENAI };

/* An address block: family AF_INET or AF_INET6, the address, the prefix length. */
struct cidr {
	int family;
	unsigned char addr[16];
	int bits;
};

struct config {
	enum environment environment; /* ENVIRONMENT: development|production */
	bool debug;                   /* DEBUG: true|false|1|0|yes|no|on|off */
	char *host;                   /* HOST: default 127.0.0.1 */
	int port;                     /* PORT: 0-65535 (0 = any free port), default 8000 */
	char *database_url;           /* DATABASE_URL: sqlite:///path or postgresql://..., default
	                                 sqlite:///./data/vault.db */
	bool database_echo;           /* DATABASE_ECHO: log every SQL statement */
	/* PostgreSQL's connection pool (SQLite keeps its own fixed one). */
	int db_pool_size;                 /* DB_POOL_SIZE: 1-1000, default 5 kept open */
	int db_max_overflow;              /* DB_MAX_OVERFLOW: 0-1000, default 10 more under load */
	int db_pool_timeout_seconds;      /* DB_POOL_TIMEOUT_SECONDS: 1-600, default 10, then 503 */
	int db_statement_timeout_seconds; /* DB_STATEMENT_TIMEOUT_SECONDS: 0-86400, default 30 */
	char *secret_key;                 /* SECRET_KEY: >= 32 characters */
	bool secret_key_generated;        /* true when development made one up for this run */
	int access_token_expire_minutes;  /* ACCESS_TOKEN_EXPIRE_MINUTES: 1-1440, default 30 */
	int refresh_token_expire_days;    /* REFRESH_TOKEN_EXPIRE_DAYS: 1-365, default 14 */
	int refresh_reuse_grace_seconds;  /* REFRESH_REUSE_GRACE_SECONDS: 0-60, default 5 */
	int bcrypt_rounds;                /* BCRYPT_ROUNDS: 4-31, default 12 */
	char **allowed_origins;           /* ALLOWED_ORIGINS: comma-separated, NULL-terminated */
	size_t n_allowed_origins;
	enum log_level log_level;   /* LOG_LEVEL: debug|info|warning|error, default info */
	enum log_format log_format; /* LOG_FORMAT: json|console, default json */
	size_t max_body_bytes;      /* MAX_BODY_BYTES: 1024-67108864, default 2097152 */
	size_t max_upload_bytes;    /* MAX_UPLOAD_BYTES: 1 MiB-1 GiB, default 32 MiB */
	int idle_timeout_seconds;   /* IDLE_TIMEOUT_SECONDS: 1-3600, default 30 */
	int shutdown_grace_seconds; /* SHUTDOWN_GRACE_SECONDS: 0-3600, default 30 */
	char *metrics_token;        /* METRICS_TOKEN: secret, >= 32 characters; NULL: no /metrics */

	/* Admission control. */
	struct cidr *trusted_proxies; /* TRUSTED_PROXIES: addresses or CIDRs, comma-separated */
	size_t n_trusted_proxies;
	int auth_rate_per_minute;  /* AUTH_RATE_PER_MINUTE: 1-1000000, default 60 per address */
	int login_rate_per_minute; /* LOGIN_RATE_PER_MINUTE: 1-1000000, default 10 per account */
	int bcrypt_threads;        /* BCRYPT_THREADS: 1-256, default the cores */
	size_t body_buffer_bytes;  /* BODY_BUFFER_BYTES: >= MAX_BODY_BYTES, default 64 MiB */
	int64_t user_max_notes;    /* USER_MAX_NOTES: 0 (none) or 1-1e9, default 100000 */
	int64_t user_max_bytes;    /* USER_MAX_BYTES: 0 (none) or up to 1 PiB, default 1 GiB */

	/* AI providers and search. */
	enum embedding_provider embedding_provider; /* EMBEDDING_PROVIDER: local|hash|openai */
	char *embedding_model;     /* EMBEDDING_MODEL: default use-lite-v1 / local-hash-v1 /
	                              text-embedding-3-small */
	char *embedding_model_dir; /* EMBEDDING_MODEL_DIR: the local model's files, default
	                              ./data/models/use-lite-v1 */
	int embedding_dim;    /* EMBEDDING_DIM: 512 local; 8-4096, default 384 hash / 1536 openai */
	int embed_batch_size; /* EMBED_BATCH_SIZE: 1-2048, default 64 texts per request */
	bool embed_worker;    /* EMBED_WORKER: serve runs the embedding worker, default true */
	char *openai_api_key; /* OPENAI_API_KEY: secret, optional for local servers */
	char *openai_base_url;          /* OPENAI_BASE_URL: default https://api.openai.com/v1 */
	enum llm_provider llm_provider; /* LLM_PROVIDER: none|openai, default none */
	char *llm_model;                /* LLM_MODEL: default gpt-4o-mini */
	int context_tokens;             /* CONTEXT_TOKENS: 256-1000000, default 3000 */
	int ai_timeout_seconds;         /* AI_TIMEOUT_SECONDS: 1-600, default 30 */
	int ai_query_timeout_seconds;   /* AI_QUERY_TIMEOUT_SECONDS: 1-600, default 5 */
	int ai_max_retries;             /* AI_MAX_RETRIES: 0-10, default 3 */
	double
	    search_min_similarity; /* SEARCH_MIN_SIMILARITY: 0-1, default 0.1 local / 0.25 openai */
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

/* One assignment of a .env file. */
struct config_var {
	char *key;
	char *value;
};

/*
 * The assignments of .env text[0..len), in order, as config_load() reads its
 * dotenv_path: KEY=VALUE lines, optionally after "export"; # comments; values
 * bare (trimmed, up to a # after a blank), in single quotes (literal) or in
 * double quotes (with \n \r \t \" \\ escapes). *vars (*n of them) is freed
 * with config_vars_free(). VERR_INVALID "name:line: problem" on the first
 * malformed line, name saying which file; the problem never quotes a value,
 * and there is nothing to free.
 */
enum verr config_dotenv_parse(const char *text, size_t len, const char *name,
                              struct config_var **vars, size_t *n, struct verror *err);

void config_vars_free(struct config_var *vars, size_t n); /* wipes the values */

/*
 * Setting i of the table config_load() reads (0, 1, ... in its order): its
 * name, and in *def its default as .env.example shows it ("" when it has
 * none or it is computed, e.g. the number of cores). NULL past the last.
 */
const char *config_setting(size_t i, const char **def);

/* Lists every setting with its help, range and default, for --help. */
void config_help(FILE *out);

/* Whether the numeric address addr (IPv4 or IPv6 text) is in TRUSTED_PROXIES. */
bool config_proxy_trusted(const struct config *cfg, const char *addr);

/* Whether origin is in ALLOWED_ORIGINS (or it holds "*"). */
bool config_origin_allowed(const struct config *cfg, const char *origin);

#endif
