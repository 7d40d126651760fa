/*
 * services.h - what every service needs: the store and the settings.
 *
 * One struct svc lives for the process; request threads share it read-only.
 */
#ifndef VAULT_SERVICES_SERVICES_H
#define VAULT_SERVICES_SERVICES_H

#include "core/config.h"
#include "core/security.h"
#include "store/store.h"

struct svc {
	struct store *store;
	const struct config *cfg;
	/* Hashed at start-up at the configured cost, so a login for an unknown
	 * e-mail spends as long in bcrypt as one with a wrong password. */
	char dummy_hash[PASSWORD_HASH_MAX];
};

/* Borrows store and cfg, which must outlive svc. */
enum verr svc_init(struct svc *svc, struct store *store, const struct config *cfg,
                   struct verror *err);

#endif
