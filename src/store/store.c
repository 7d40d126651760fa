/*
 * store.c - picks a backend by URL scheme and forwards each call to it.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *scheme;
	const struct store_ops *ops;
} backends[] = {
    {"sqlite://", &store_sqlite_ops},
};

enum verr store_open(const char *url, const struct store_opts *opts, struct store **out,
                     struct verror *err)
{
	*out = NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strncmp(url, backends[i].scheme, strlen(backends[i].scheme)) == 0)
			return backends[i].ops->open(url, opts, out, err);
	return verr_set(err, VERR_INVALID,
	                "unsupported database URL scheme; expected sqlite:///path");
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

void note_free(struct note *n)
{
	if (!n)
		return;
	free(n->title);
	free(n->content);
	for (size_t i = 0; i < n->ntags; i++)
		free(n->tags[i]);
	free(n->tags);
	memset(n, 0, sizeof(*n));
}

void note_page_free(struct note_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		note_free(&p->items[i]);
	free(p->items);
	memset(p, 0, sizeof(*p));
}

enum verr store_ping(struct store *s, struct verror *err)
{
	return s->ops->ping(s, err);
}

enum verr store_migrate_up(struct store *s, int target, int *applied, struct verror *err)
{
	return s->ops->migrate_up(s, target, applied, err);
}

enum verr store_migrate_down(struct store *s, int target, int *reverted, struct verror *err)
{
	return s->ops->migrate_down(s, target, reverted, err);
}

enum verr store_migrate_status(struct store *s, struct migration_info **out, size_t *n,
                               struct verror *err)
{
	return s->ops->migrate_status(s, out, n, err);
}

enum verr store_schema_check(struct store *s, struct verror *err)
{
	return s->ops->schema_check(s, err);
}

enum verr store_user_create(struct store *s, const char *email, const char *password_hash,
                            int64_t now, struct user *out, struct verror *err)
{
	return s->ops->user_create(s, email, password_hash, now, out, err);
}

enum verr store_user_get(struct store *s, int64_t id, struct user *out, struct verror *err)
{
	return s->ops->user_get(s, id, out, err);
}

enum verr store_user_get_by_email(struct store *s, const char *email, struct user *out,
                                  struct verror *err)
{
	return s->ops->user_get_by_email(s, email, out, err);
}

enum verr store_user_list(struct store *s, struct user **out, size_t *n, struct verror *err)
{
	return s->ops->user_list(s, out, n, err);
}

enum verr store_user_delete(struct store *s, int64_t id, struct verror *err)
{
	return s->ops->user_delete(s, id, err);
}

enum verr store_token_insert(struct store *s, int64_t user_id, const char *family,
                             const char *token_hash, int64_t expires_at, int64_t now,
                             struct verror *err)
{
	return s->ops->token_insert(s, user_id, family, token_hash, expires_at, now, err);
}

enum verr store_token_rotate(struct store *s, const char *old_hash, const char *new_hash,
                             int64_t new_expires_at, int64_t now, int64_t *user_id,
                             struct verror *err)
{
	return s->ops->token_rotate(s, old_hash, new_hash, new_expires_at, now, user_id, err);
}

enum verr store_token_revoke_family(struct store *s, int64_t user_id, const char *token_hash,
                                    int64_t now, struct verror *err)
{
	return s->ops->token_revoke_family(s, user_id, token_hash, now, err);
}

enum verr store_token_revoke_all(struct store *s, int64_t user_id, int64_t now, struct verror *err)
{
	return s->ops->token_revoke_all(s, user_id, now, err);
}

enum verr store_note_create(struct store *s, int64_t user_id, const struct note_input *in,
                            int64_t now, struct note *out, struct verror *err)
{
	return s->ops->note_create(s, user_id, in, now, out, err);
}

enum verr store_note_get(struct store *s, int64_t user_id, int64_t id, struct note *out,
                         struct verror *err)
{
	return s->ops->note_get(s, user_id, id, out, err);
}

enum verr store_note_update(struct store *s, int64_t user_id, int64_t id,
                            const struct note_input *in, int64_t now, struct note *out,
                            struct verror *err)
{
	return s->ops->note_update(s, user_id, id, in, now, out, err);
}

enum verr store_note_delete(struct store *s, int64_t user_id, int64_t id, struct verror *err)
{
	return s->ops->note_delete(s, user_id, id, err);
}

enum verr store_note_list(struct store *s, const struct note_query *q, struct note_page *out,
                          struct verror *err)
{
	return s->ops->note_list(s, q, out, err);
}
