/*
 * services.c - the shared service context.
 */
#include "services/services.h"

enum verr svc_init(struct svc *svc, struct store *store, const struct config *cfg,
                   struct verror *err)
{
	svc->store = store;
	svc->cfg = cfg;
	return password_hash("vault-timing-equaliser", cfg->bcrypt_rounds, svc->dummy_hash, err);
}
