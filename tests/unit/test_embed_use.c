/*
 * test_embed_use.c - the local neural embedder: it loads only the published
 * model and says how to fetch it otherwise; its vectors are unit length,
 * repeatable, and put related texts closer than unrelated ones; a text
 * longer than the model's window is cut into windows, none of it dropped;
 * many threads at once; odd and hostile input.
 * (That the vectors are the reference implementation's is tests/reference.)
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/embedder.h"

#define DIM 512

static const char *model_dir(void)
{
	const char *d = getenv("EMBEDDING_MODEL_DIR");
	return d && *d ? d : "data/models/use-lite-v1";
}

static struct config cfg_for(const char *dir)
{
	struct config c = {0};
	c.embedding_provider = EMBED_LOCAL;
	c.embedding_model = (char *)"use-lite-v1";
	c.embedding_model_dir = (char *)dir;
	c.embedding_dim = DIM;
	return c;
}

static struct embedder *make(void)
{
	static struct config c;
	c = cfg_for(model_dir());
	struct embedder *e = NULL;
	struct verror err = {0};
	cr_assert_eq(embedder_new(&c, &e, &err), VERR_OK, "%s", err.detail);
	return e;
}

static void embed(struct embedder *e, const char *const *texts, size_t n, float *out)
{
	struct verror err = {0};
	cr_assert_eq(embedder_embed(e, texts, n, out, &err), VERR_OK, "%s", err.detail);
}

static float dot(const float *a, const float *b)
{
	float s = 0;
	for (int i = 0; i < DIM; i++)
		s += a[i] * b[i];
	return s;
}

static float max_diff(const float *a, const float *b, size_t n)
{
	float m = 0;
	for (size_t i = 0; i < n; i++)
		m = fabsf(a[i] - b[i]) > m ? fabsf(a[i] - b[i]) : m;
	return m;
}

/* ------------------------------------------------------------------ */
/* Loading: the published model or one clear line.                     */

Test(embed_use, fields)
{
	struct embedder *e = make();
	cr_assert_eq(e->dim, DIM);
	cr_assert_str_eq(e->model, "use-lite-v1");
	cr_assert(e->local);
	/* A worker's batch stays small: a stopping server waits for it. */
	cr_assert(e->max_batch >= 1 && e->max_batch <= 16, "max_batch %zu", e->max_batch);
	embedder_free(e);
}

/* Expects embedder_new to fail for dir with a one-line detail holding needle. */
static void refused(const char *dir, const char *needle)
{
	struct config c = cfg_for(dir);
	struct embedder *e = NULL;
	struct verror err = {0};
	cr_assert_eq(embedder_new(&c, &e, &err), VERR_INVALID, "loaded from %s", dir);
	cr_assert_null(e);
	cr_assert_null(strchr(err.detail, '\n'), "not one line: %s", err.detail);
	cr_assert(strstr(err.detail, needle), "\"%s\" lacks \"%s\"", err.detail, needle);
	cr_assert(strstr(err.detail, "scripts/fetch-model"), "no way out in: %s", err.detail);
}

Test(embed_use, missing_model_says_how_to_fetch_it)
{
	refused("/nonexistent/vault-model", "/nonexistent/vault-model/model.json");
}

static const char *const model_files[] = {
    "model.json",       "vocab.json",       "group1-shard1of7",
    "group1-shard2of7", "group1-shard3of7", "group1-shard4of7",
    "group1-shard5of7", "group1-shard6of7", "group1-shard7of7",
};

/*
 * A copy of the model in a new directory (dir, >= 64 bytes): symbolic links
 * to the real files except `changed`, which is copied and passed to edit.
 */
static void copy_model(char *dir, const char *changed, void (*edit)(const char *path))
{
	char src[4096], dst[4096];
	strcpy(dir, "/tmp/vault-test-model-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	for (size_t i = 0; i < sizeof(model_files) / sizeof(model_files[0]); i++) {
		snprintf(dst, sizeof(dst), "%s/%s", dir, model_files[i]);
		cr_assert_not_null(realpath(model_dir(), src), "%s: %s", model_dir(),
		                   strerror(errno));
		snprintf(src + strlen(src), sizeof(src) - strlen(src), "/%s", model_files[i]);
		if (strcmp(model_files[i], changed) != 0) {
			cr_assert_eq(symlink(src, dst), 0, "symlink: %s", strerror(errno));
			continue;
		}
		FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
		cr_assert(in && out);
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			cr_assert_eq(fwrite(buf, 1, n, out), n);
		fclose(in);
		fclose(out);
		if (edit)
			edit(dst);
	}
}

static void remove_model(const char *dir)
{
	char path[4096];
	for (size_t i = 0; i < sizeof(model_files) / sizeof(model_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, model_files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void flip_a_byte(const char *path)
{
	FILE *f = fopen(path, "r+b");
	cr_assert_not_null(f);
	fseek(f, 100000, SEEK_SET);
	int c = fgetc(f);
	fseek(f, 100000, SEEK_SET);
	fputc(c ^ 0x40, f);
	fclose(f);
}

static void cut_short(const char *path)
{
	cr_assert_eq(truncate(path, 4096), 0);
}

static void delete (const char *path)
{
	unlink(path);
}

Test(embed_use, corrupt_or_missing_files_are_refused)
{
	char dir[64];
	copy_model(dir, "vocab.json", flip_a_byte);
	refused(dir, "vocab.json is corrupt");
	remove_model(dir);

	copy_model(dir, "model.json", flip_a_byte);
	refused(dir, "model.json is corrupt");
	remove_model(dir);

	copy_model(dir, "group1-shard7of7", cut_short);
	refused(dir, "group1-shard7of7 is not the published file (4096 bytes");
	remove_model(dir);

	copy_model(dir, "vocab.json", delete);
	refused(dir, "vocab.json: No such file or directory");
	remove_model(dir);
}

Test(embed_use, another_dimension_is_refused)
{
	struct config c = cfg_for(model_dir());
	c.embedding_dim = 384;
	struct embedder *e = NULL;
	struct verror err = {0};
	cr_assert_eq(embedder_new(&c, &e, &err), VERR_INVALID);
	cr_assert_null(e);
	cr_assert(strstr(err.detail, "EMBEDDING_DIM"), "%s", err.detail);
}

/* ------------------------------------------------------------------ */
/* Vectors.                                                             */

Test(embed_use, unit_length_and_repeatable)
{
	struct embedder *e = make(), *e2 = make();
	const char *texts[] = {"Car maintenance", "", " ", "🎉", "東京", "x"};
	size_t n = sizeof(texts) / sizeof(texts[0]);
	float a[6 * DIM], b[6 * DIM];
	embed(e, texts, n, a);
	embed(e2, texts, n, b);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0, "same text, same embedder, other bits");
	for (size_t i = 0; i < n; i++) {
		float norm = sqrtf(dot(a + i * DIM, a + i * DIM));
		cr_assert_float_eq(norm, 1.0f, 1e-5, "text %zu has norm %f", i, norm);
	}
	embedder_free(e);
	embedder_free(e2);
}

Test(embed_use, batch_equals_one_by_one)
{
	struct embedder *e = make();
	const char *texts[] = {"one", "Two words", "Three words here.",
	                       "A longer sentence about the weekly team meeting on Tuesday.", ""};
	float batch[5 * DIM], one[DIM];
	embed(e, texts, 5, batch);
	for (size_t i = 0; i < 5; i++) {
		embed(e, &texts[i], 1, one);
		cr_assert_lt(max_diff(batch + i * DIM, one, DIM), 1e-5, "text %zu", i);
	}
	embedder_free(e);
}

/* The cosine of a and b under e. */
static float similarity(struct embedder *e, const char *a, const char *b)
{
	const char *texts[] = {a, b};
	float v[2 * DIM];
	embed(e, texts, 2, v);
	return dot(v, v + DIM);
}

Test(embed_use, meaning_not_just_words)
{
	struct embedder *e = make();
	/* Queries that share no word with the note they mean (issue 9). */
	cr_assert_gt(
	    similarity(e, "vehicle upkeep", "Car maintenance: oil change and tyre pressure"),
	    similarity(e, "vehicle upkeep", "Sourdough bread: flour, water, salt, starter"));
	cr_assert_gt(similarity(e, "machine learning models", "Training a neural network"),
	             similarity(e, "machine learning models", "Planting tomatoes in spring"));
	cr_assert_gt(
	    similarity(e, "how do I get my money back", "Returning a purchase for a refund"),
	    similarity(e, "how do I get my money back", "The cat's vaccination record"));
	embedder_free(e);
}

/* ------------------------------------------------------------------ */
/* Windows: nothing past the model's 128 pieces is dropped.            */

/* text repeated times, joined by spaces; caller frees. */
static char *repeat(const char *text, int times)
{
	size_t n = strlen(text);
	char *s = malloc((n + 1) * (size_t)times + 1), *p = s;
	cr_assert_not_null(s);
	for (int i = 0; i < times; i++) {
		memcpy(p, text, n);
		p += n;
		*p++ = ' ';
	}
	p[-1] = '\0';
	return s;
}

Test(embed_use, long_text_is_the_mean_of_its_windows)
{
	struct embedder *e = make();
	/* 100 pieces that split cleanly at each "▁": twice that is two windows of 100. */
	char *half = repeat("cheese", 100), *whole = repeat("cheese", 200);
	int32_t *ids;
	size_t n;
	struct verror err;
	cr_assert_eq(embed_use_tokens(e, half, &ids, &n, &err), VERR_OK);
	free(ids);
	cr_assert_eq(n, 100);
	cr_assert_eq(embed_use_tokens(e, whole, &ids, &n, &err), VERR_OK);
	free(ids);
	cr_assert_eq(n, 200);
	const char *texts[] = {half, whole};
	float v[2 * DIM];
	embed(e, texts, 2, v);
	cr_assert_lt(max_diff(v, v + DIM, DIM), 1e-5, "mean pooling over two equal windows");
	free(half);
	free(whole);
	embedder_free(e);
}

Test(embed_use, the_end_of_a_long_text_counts)
{
	struct embedder *e = make();
	char *cooking = repeat("Knead the dough, let it rise, then bake the bread.", 20);
	size_t n = strlen(cooking);
	const char *tail = " Then change the engine oil and check the tyre pressure of the car.";
	char *both = malloc(n + strlen(tail) + 1);
	cr_assert_not_null(both);
	memcpy(both, cooking, n);
	strcpy(both + n, tail);
	int32_t *ids;
	size_t pieces;
	struct verror err;
	cr_assert_eq(embed_use_tokens(e, cooking, &ids, &pieces, &err), VERR_OK);
	free(ids);
	cr_assert_gt(pieces, 2 * 128, "the car is not past the model's window");
	/* Cut at 128 pieces, both would be the same text. */
	float with_car = similarity(e, both, "car maintenance");
	float without = similarity(e, cooking, "car maintenance");
	cr_assert_gt(with_car, without + 0.01f, "%f vs %f", with_car, without);
	free(cooking);
	free(both);
	embedder_free(e);
}

/* ------------------------------------------------------------------ */
/* Threads and odd input.                                               */

struct job {
	struct embedder *e;
	const char *const *texts;
	size_t n;
	const float *want;
	int bad;
};

static void *run(void *arg)
{
	struct job *j = arg;
	float *v = malloc(j->n * DIM * sizeof(float));
	struct verror err;
	for (int round = 0; round < 3 && v; round++)
		if (embedder_embed(j->e, j->texts, j->n, v, &err) != VERR_OK ||
		    max_diff(v, j->want, j->n * DIM) > 1e-5f)
			j->bad++;
	free(v);
	return NULL;
}

Test(embed_use, many_threads_at_once, .timeout = 120)
{
	struct embedder *e = make();
	char *long_text = repeat("The quick brown fox jumps over the lazy dog.", 40);
	const char *texts[] = {"alpha",   long_text, "Meeting notes from Tuesday",
	                       "🎉 party", "",        long_text};
	size_t n = sizeof(texts) / sizeof(texts[0]);
	float *want = malloc(n * DIM * sizeof(float));
	cr_assert_not_null(want);
	embed(e, texts, n, want);
	struct job jobs[6];
	pthread_t th[6];
	for (int i = 0; i < 6; i++) {
		jobs[i] = (struct job){e, texts, n, want, 0};
		cr_assert_eq(pthread_create(&th[i], NULL, run, &jobs[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(jobs[i].bad, 0, "thread %d got other vectors", i);
	}
	free(want);
	free(long_text);
	embedder_free(e);
}

Test(embed_use, pieces_as_the_reference_cuts_them)
{
	struct embedder *e = make();
	static const struct {
		const char *text;
		size_t n;
		int32_t ids[4];
	} cases[] = {
	    {"Hello world", 3, {341, 4125, 311}},
	    {"", 0, {0}},
	    {" ", 2, {30, 30}},          /* "▁" first, then the space as "▁" */
	    {"🎉🎉🎉", 2, {30, 0}},         /* unknown characters merge into one */
	    {"a\n\nb", 3, {11, 0, 151}}, /* a newline is unknown too */
	    {"x:30", 2, {649, 4177}},    /* ":30" scores 30 in vocab.json */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int32_t *ids;
		size_t n;
		struct verror err;
		cr_assert_eq(embed_use_tokens(e, cases[i].text, &ids, &n, &err), VERR_OK);
		cr_assert_eq(n, cases[i].n, "%zu pieces for case %zu", n, i);
		for (size_t k = 0; k < n; k++)
			cr_assert_eq(ids[k], cases[i].ids[k], "case %zu piece %zu", i, k);
		free(ids);
	}
	embedder_free(e);
}

Test(embed_use, invalid_utf8_and_large_input)
{
	struct embedder *e = make();
	char *big = repeat("Zażółć gęślą jaźń 東京 🎉 \xff\xfe\xc3 lorem ipsum dolor", 400);
	const char *texts[] = {"\xff\xfe\xfd", "caf\xc3", "\xed\xa0\x80 surrogate", big};
	float v[4 * DIM];
	embed(e, texts, 4, v);
	for (size_t i = 0; i < 4; i++)
		cr_assert_float_eq(sqrtf(dot(v + i * DIM, v + i * DIM)), 1.0f, 1e-5, "text %zu", i);
	/* Invalid bytes read as U+FFFD, an unknown character. */
	int32_t *a, *b;
	size_t na, nb;
	struct verror err;
	cr_assert_eq(embed_use_tokens(e, "caf\xff", &a, &na, &err), VERR_OK);
	cr_assert_eq(embed_use_tokens(e, "caf\xef\xbf\xbd", &b, &nb, &err), VERR_OK);
	cr_assert_eq(na, nb);
	cr_assert_eq(memcmp(a, b, na * sizeof(*a)), 0);
	free(a);
	free(b);
	free(big);
	embedder_free(e);
}

Test(embed_use, tokens_only_for_the_local_model)
{
	struct config c = {0};
	c.embedding_provider = EMBED_HASH;
	c.embedding_model = (char *)"local-hash-v1";
	c.embedding_dim = 64;
	struct embedder *e = NULL;
	struct verror err = {0};
	cr_assert_eq(embedder_new(&c, &e, &err), VERR_OK, "%s", err.detail);
	int32_t *ids;
	size_t n;
	cr_assert_eq(embed_use_tokens(e, "x", &ids, &n, &err), VERR_INVALID);
	cr_assert_null(ids);
	embedder_free(e);
}
