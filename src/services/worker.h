/*
 * worker.h - the embedding worker: turns pending chunks into vectors.
 *
 * The queue lives in the database (store_embed_claim), so work survives a
 * restart and several workers, in one process or many, share it. A chunk
 * that fails is retried with exponential backoff (5 s doubling to an hour)
 * and given up after EMBED_MAX_ATTEMPTS, about half a day: a provider outage
 * of hours loses nothing; `vault reindex` retries what was given up.
 */
#ifndef VAULT_SERVICES_WORKER_H
#define VAULT_SERVICES_WORKER_H

#include <stddef.h>

#include "services/services.h"

#define EMBED_MAX_ATTEMPTS 20

/* Starts a background thread embedding for the whole database; sets svc->worker. */
enum verr embed_worker_start(struct svc *svc, struct verror *err);

/* Asks the thread to finish its batch and waits for it; accepts NULL. */
void embed_worker_stop(struct embed_worker *w);

/* Wakes the thread now (new work), instead of at its next poll; accepts NULL. */
void embed_worker_kick(struct embed_worker *w);

/*
 * Claims one batch and embeds it in the calling thread; *embedded and
 * *failed count its chunks (both 0: nothing is due). For `vault reindex`
 * and tests. Provider failures are recorded on the chunks, not returned.
 */
enum verr embed_worker_run_once(struct svc *svc, size_t *embedded, size_t *failed,
                                struct verror *err);

/* Makes every chunk of user_id (0: of everyone) pending again; *count of them. */
enum verr embed_reindex(struct svc *svc, int64_t user_id, int64_t *count, struct verror *err);

#endif
