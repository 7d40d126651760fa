/*
 * services.h - what every service needs: the store, the settings and the
 * AI providers.
 *
 * One struct svc lives for the process; request threads share it.
 */
#ifndef VAULT_SERVICES_SERVICES_H
#define VAULT_SERVICES_SERVICES_H

#include <pthread.h>

#include "core/config.h"
#include "core/metrics.h"
#include "core/security.h"
#include "providers/embedder.h"
#include "providers/llm.h"
#include "store/store.h"

struct embed_worker;
struct lane;
struct ratelimit;

struct svc {
	struct store *store;
	const struct config *cfg;
	struct embedder *embedder;
	struct llm *llm;
	struct embed_worker *worker; /* NULL unless this process embeds */
	struct lane *bcrypt;         /* BCRYPT_THREADS low-priority threads for password hashes */
	struct ratelimit *logins;    /* LOGIN_RATE_PER_MINUTE, by account */
	struct lru *tokens;          /* access tokens verified lately (auth.c) */
	struct lru *queries;         /* the vectors of users' recent search queries, by user */
	/* Hashed at the configured cost on the first login for an unknown
	 * e-mail, so each such login spends as long in bcrypt as one with a
	 * wrong password; dummy_mu guards it. */
	char dummy_hash[PASSWORD_HASH_MAX];
	pthread_mutex_t dummy_mu;
};

/*
 * Borrows store and cfg, which must outlive svc; sets up the providers
 * named in cfg. Release with svc_cleanup().
 */
enum verr svc_init(struct svc *svc, struct store *store, const struct config *cfg,
                   struct verror *err);

void svc_cleanup(struct svc *svc);

/* The embedding model's name and dimensions (borrowed, for as long as svc). */
void svc_embedding_model(const struct svc *svc, const char **model, int *dim);

/* The store's figures for GET /metrics; the queue's are -1 while the database is away. */
void svc_metrics_gauges(struct svc *svc, struct metrics_gauges *g);

/* Whether the database answers, for GET /ready. */
enum verr svc_ping(struct svc *svc, struct verror *err);

#endif
