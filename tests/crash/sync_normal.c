/*
 * sync_normal.c - turns a link of vault into build/vault_sync_normal, whose
 * SQLite stores run at synchronous=NORMAL: linked with
 * -Wl,--wrap=store_open, so every store_open() of the real code comes here
 * first. For test_durability.c only, to show that its crash test catches a
 * server that acknowledges writes it has not synced. It is no setting of
 * vault: nobody should run this build.
 */
#include "store/store.h"

enum verr __real_store_open(const char *url, const struct store_opts *opts, struct store **out,
                            struct verror *err);
enum verr __wrap_store_open(const char *url, const struct store_opts *opts, struct store **out,
                            struct verror *err);

enum verr __wrap_store_open(const char *url, const struct store_opts *opts, struct store **out,
                            struct verror *err)
{
	struct store_opts o = opts ? *opts : (struct store_opts){0};
	o.synchronous_normal = true;
	return __real_store_open(url, &o, out, err);
}
