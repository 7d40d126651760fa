/*
 * store.c - picks a backend by URL scheme and forwards each call to it;
 * and the helpers the backends share (backend.h).
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/backend.h"

static const struct {
	const char *scheme;
	const struct store_ops *ops;
} backends[] = {
    {"sqlite://", &store_sqlite_ops},
    {"postgresql://", &store_pg_ops},
    {"postgres://", &store_pg_ops},
};

enum verr store_open(const char *url, const struct store_opts *opts, struct store **out,
                     struct verror *err)
{
	*out = NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strncmp(url, backends[i].scheme, strlen(backends[i].scheme)) == 0)
			return backends[i].ops->open(url, opts, out, err);
	return verr_set(
	    err, VERR_INVALID,
	    "unsupported database URL scheme; expected sqlite:///path or postgresql://...");
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
                             int64_t new_expires_at, int64_t now, int64_t grace_ms,
                             int64_t *user_id, struct verror *err)
{
	return s->ops->token_rotate(s, old_hash, new_hash, new_expires_at, now, grace_ms, user_id,
	                            err);
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

void embed_jobs_free(struct embed_job *jobs, size_t n)
{
	for (size_t i = 0; jobs && i < n; i++) {
		free(jobs[i].title);
		free(jobs[i].heading);
		free(jobs[i].text);
	}
	free(jobs);
}

void vector_set_free(struct vector_set *v)
{
	if (!v)
		return;
	free(v->vecs);
	free(v->chunk_ids);
	free(v->note_ids);
	memset(v, 0, sizeof(*v));
}

enum verr store_notes_get_many(struct store *s, int64_t user_id, const int64_t *ids, size_t n,
                               struct note *out, struct verror *err)
{
	return s->ops->notes_get_many(s, user_id, ids, n, out, err);
}

enum verr store_note_ids_with_tags(struct store *s, int64_t user_id, const char *const *tags,
                                   size_t ntags, int64_t **ids, size_t *n, struct verror *err)
{
	return s->ops->note_ids_with_tags(s, user_id, tags, ntags, ids, n, err);
}

enum verr store_note_chunks(struct store *s, int64_t user_id, int64_t note_id, int64_t **chunk_ids,
                            char ***texts, size_t *n, struct verror *err)
{
	return s->ops->note_chunks(s, user_id, note_id, chunk_ids, texts, n, err);
}

enum verr store_embed_claim(struct store *s, size_t limit, int64_t now, int64_t lease_ms,
                            struct embed_job **out, size_t *n, struct verror *err)
{
	return s->ops->embed_claim(s, limit, now, lease_ms, out, n, err);
}

enum verr store_embed_done(struct store *s, const int64_t *chunk_ids, const char *const *hashes,
                           size_t n, const char *model, int dim, const float *vecs, int64_t now,
                           struct verror *err)
{
	return s->ops->embed_done(s, chunk_ids, hashes, n, model, dim, vecs, now, err);
}

enum verr store_embed_failed(struct store *s, int64_t chunk_id, const char *hash, const char *error,
                             int64_t retry_at, bool give_up, struct verror *err)
{
	return s->ops->embed_failed(s, chunk_id, hash, error, retry_at, give_up, err);
}

enum verr store_reindex(struct store *s, int64_t user_id, int64_t *count, struct verror *err)
{
	return s->ops->reindex(s, user_id, count, err);
}

enum verr store_index_status(struct store *s, int64_t user_id, const char *model, int dim,
                             struct index_status *out, struct verror *err)
{
	return s->ops->index_status(s, user_id, model, dim, out, err);
}

enum verr store_index_version(struct store *s, int64_t user_id, int64_t *version,
                              struct verror *err)
{
	return s->ops->index_version(s, user_id, version, err);
}

enum verr store_vectors_load(struct store *s, int64_t user_id, const char *model, int dim,
                             struct vector_set *out, struct verror *err)
{
	return s->ops->vectors_load(s, user_id, model, dim, out, err);
}

enum verr store_keyword_search(struct store *s, int64_t user_id, const char *const *terms,
                               size_t nterms, bool phrase, const char *const *tags, size_t ntags,
                               size_t limit, struct keyword_hit **out, size_t *n,
                               struct verror *err)
{
	return s->ops->keyword_search(s, user_id, terms, nterms, phrase, tags, ntags, limit, out, n,
	                              err);
}

bool store_has_vector_search(const struct store *s)
{
	return s->ops->vector_search != NULL;
}

enum verr store_vector_search(struct store *s, int64_t user_id, const char *model, int dim,
                              const float *q, const int64_t *only, size_t nonly, bool filter,
                              size_t limit, struct vector_hit **out, size_t *n, struct verror *err)
{
	return s->ops->vector_search(s, user_id, model, dim, q, only, nonly, filter, limit, out, n,
	                             err);
}

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = b->len + n + 1 > 2 * b->cap ? b->len + n + 1 : 2 * b->cap;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void store_note_fill(struct note *out, int64_t id, int64_t user_id, const struct note_input *in,
                     int64_t created_at, int64_t updated_at, enum embed_status status)
{
	out->id = id;
	out->user_id = user_id;
	out->title = xstrdup(in->title ? in->title : "");
	out->content = xstrdup(in->content ? in->content : "");
	out->tags = in->ntags ? xcalloc(in->ntags, sizeof(*out->tags)) : NULL;
	for (size_t i = 0; i < in->ntags; i++)
		out->tags[i] = xstrdup(in->tags[i]);
	out->ntags = in->ntags;
	out->created_at = created_at;
	out->updated_at = updated_at;
	out->embedding_status = status;
}

void store_note_copy(struct note *dst, const struct note *src)
{
	*dst = *src;
	dst->title = xstrdup(src->title);
	dst->content = xstrdup(src->content);
	dst->tags = src->ntags ? xcalloc(src->ntags, sizeof(*dst->tags)) : NULL;
	for (size_t i = 0; i < src->ntags; i++)
		dst->tags[i] = xstrdup(src->tags[i]);
}

enum verr store_quota_check(const struct note_input *in, int64_t count0, int64_t bytes0,
                            int64_t count1, int64_t bytes1, struct verror *err)
{
	if (in->max_notes && count1 > count0 && count1 > in->max_notes)
		return verr_set(err, VERR_FORBIDDEN, "Quota exceeded: at most %lld notes",
		                (long long)in->max_notes);
	if (in->max_bytes && bytes1 > bytes0 && bytes1 > in->max_bytes)
		return verr_set(err, VERR_FORBIDDEN,
		                "Quota exceeded: at most %lld bytes of notes (titles and contents)",
		                (long long)in->max_bytes);
	return VERR_OK;
}

enum verr store_chunks_check(const struct note_input *in, struct verror *err)
{
	size_t max = sizeof(((struct embed_job *)NULL)->hash) - 1;
	if (in->nchunks > 0 && !in->chunks)
		return verr_set(err, VERR_INVALID, "%zu chunks given without an array",
		                in->nchunks);
	for (size_t i = 0; i < in->nchunks; i++) {
		size_t len = in->chunks[i].hash ? strlen(in->chunks[i].hash) : 0;
		if (len == 0 || len > max)
			return verr_set(err, VERR_INVALID,
			                "chunk %zu: the hash must have 1 to %zu characters", i,
			                max);
	}
	return VERR_OK;
}

static int old_chunk_cmp(const void *a, const void *b)
{
	const struct old_chunk *x = a, *y = b;
	int d = strcmp(x->hash, y->hash);
	return d ? d : (x->id > y->id) - (x->id < y->id);
}

void store_old_chunks_sort(struct old_chunk *old, size_t n)
{
	if (n) /* qsort wants a non-NULL array, even an empty one */
		qsort(old, n, sizeof(*old), old_chunk_cmp);
}

struct old_chunk *store_old_chunk_take(struct old_chunk *old, size_t n, const char *hash)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(old[mid].hash, hash) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && strcmp(old[lo].hash, hash) == 0; lo++)
		if (!old[lo].taken) {
			old[lo].taken = true;
			return &old[lo];
		}
	return NULL;
}
