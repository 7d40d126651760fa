/*
 * test_embed_hash.c - the hashing embedder: same text, same bits; unit
 * vectors of the configured size; related texts closer than unrelated ones
 * (by topic, word form and typo); stop words alone never alike; many
 * threads at once; empty and odd input.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/embedder.h"

static struct embedder *make(int dim)
{
	static struct config cfg[8];
	static int next;
	struct config *c = &cfg[next++ % 8];
	memset(c, 0, sizeof(*c));
	c->embedding_provider = EMBED_HASH;
	c->embedding_model = "local-hash-v1";
	c->embedding_dim = dim;
	struct embedder *e = NULL;
	struct verror err = {0};
	cr_assert_eq(embed_hash_new(c, &e, &err), VERR_OK, "%s", err.detail);
	cr_assert_not_null(e);
	return e;
}

/* A new vector of text; caller frees. */
static float *embed1(struct embedder *e, const char *text)
{
	float *v = malloc((size_t)e->dim * sizeof(float));
	struct verror err = {0};
	cr_assert_eq(embedder_embed(e, &text, 1, v, &err), VERR_OK, "%s", err.detail);
	return v;
}

static double dot(const float *a, const float *b, int dim)
{
	double s = 0;
	for (int i = 0; i < dim; i++)
		s += (double)a[i] * b[i];
	return s;
}

static double sim(struct embedder *e, const char *a, const char *b)
{
	float *va = embed1(e, a), *vb = embed1(e, b);
	double s = dot(va, vb, e->dim);
	free(va);
	free(vb);
	return s;
}

static const char bread_note[] =
    "Sourdough bread\n\nFeed the starter the night before. Mix flour, water and salt, "
    "fold the dough every half hour, shape a loaf and bake it in a hot dutch oven.";
static const char tax_note[] =
    "Tax return 2023\n\nCollect receipts for the home office and charitable donations, "
    "compare itemised deductions with the standard deduction, file before April.";
static const char k8s_note[] =
    "Kubernetes deployment\n\nThree replicas behind a ClusterIP service; readiness probes "
    "hit /healthz; rolling updates with maxUnavailable zero; check kubectl logs.";
static const char trip_note[] =
    "Trip to Lisbon\n\nWe stayed in Alfama, rode tram 28 up the hill to the castle and ate "
    "custard tarts in Belem. Next time: a day trip to Sintra.";

Test(embed_hash, fields_follow_config)
{
	struct embedder *e = make(384);
	cr_assert_str_eq(e->model, "local-hash-v1");
	cr_assert_eq(e->dim, 384);
	cr_assert_geq(e->max_batch, 64);
	embedder_free(e);
}

Test(embed_hash, bad_dimension_is_refused)
{
	struct config c = {.embedding_model = "m", .embedding_dim = 0};
	struct embedder *e = (struct embedder *)&c; /* must be reset to NULL */
	struct verror err = {0};
	cr_assert_eq(embed_hash_new(&c, &e, &err), VERR_INVALID);
	cr_assert_null(e);
	cr_assert(strstr(err.detail, "EMBEDDING_DIM"));
}

Test(embed_hash, same_text_same_bits_across_instances)
{
	struct embedder *a = make(384), *b = make(384);
	float *va = embed1(a, bread_note), *vb = embed1(b, bread_note);
	cr_assert_eq(memcmp(va, vb, 384 * sizeof(float)), 0);
	float *again = embed1(a, bread_note);
	cr_assert_eq(memcmp(va, again, 384 * sizeof(float)), 0);
	free(va);
	free(vb);
	free(again);
	embedder_free(a);
	embedder_free(b);
}

Test(embed_hash, batch_equals_one_by_one)
{
	struct embedder *e = make(384);
	const char *texts[] = {bread_note, tax_note, "", k8s_note, trip_note};
	float *batch = malloc(5 * 384 * sizeof(float));
	struct verror err = {0};
	cr_assert_eq(embedder_embed(e, texts, 5, batch, &err), VERR_OK);
	for (int i = 0; i < 5; i++) {
		float *one = embed1(e, texts[i]);
		cr_assert_eq(memcmp(one, batch + i * 384, 384 * sizeof(float)), 0, "text %d", i);
		free(one);
	}
	free(batch);
	embedder_free(e);
}

Test(embed_hash, unit_norm_and_dimension_honoured)
{
	static const int dims[] = {64, 384, 1536};
	const char *texts[] = {bread_note, tax_note, "x", "Ünïcödé ΑΘΗΝΑ Москва 東京タワー"};
	for (size_t d = 0; d < 3; d++) {
		struct embedder *e = make(dims[d]);
		cr_assert_eq(e->dim, dims[d]);
		for (size_t t = 0; t < 4; t++) {
			/* A canary after the vector must stay untouched. */
			float *v = malloc(((size_t)dims[d] + 4) * sizeof(float));
			for (int k = 0; k < 4; k++)
				v[dims[d] + k] = 12345.0f;
			struct verror err = {0};
			cr_assert_eq(embedder_embed(e, &texts[t], 1, v, &err), VERR_OK);
			double n = sqrt(dot(v, v, dims[d]));
			cr_assert(fabs(n - 1.0) < 1e-5, "dim %d text %zu norm %f", dims[d], t, n);
			int nonzero = 0;
			for (int k = 0; k < dims[d]; k++)
				nonzero += v[k] != 0.0f;
			cr_assert_geq(nonzero, 1);
			for (int k = 0; k < 4; k++)
				cr_assert_eq(v[dims[d] + k], 12345.0f);
			free(v);
		}
		embedder_free(e);
	}
}

/* query, a note on its topic, a note on another. */
static const char *const triples[][3] = {
    {"how do I bake sourdough bread", bread_note, tax_note},
    {"my tax deductions for the home office", tax_note, bread_note},
    {"kubernetes rolling update readiness probe", k8s_note, trip_note},
    {"day trip to Sintra from Lisbon", trip_note, k8s_note},
    {"starter and dough", bread_note, k8s_note},
    {"castle hill tram", trip_note, tax_note},
};

static void related_above_unrelated(int dim, double margin)
{
	struct embedder *e = make(dim);
	for (size_t i = 0; i < sizeof(triples) / sizeof(triples[0]); i++) {
		double rel = sim(e, triples[i][0], triples[i][1]);
		double unrel = sim(e, triples[i][0], triples[i][2]);
		cr_assert_gt(rel, unrel + margin, "dim %d, \"%s\": related %.3f, unrelated %.3f",
		             dim, triples[i][0], rel, unrel);
	}
	embedder_free(e);
}

Test(embed_hash, related_texts_score_above_unrelated)
{
	related_above_unrelated(384, 0.15);
	related_above_unrelated(1536, 0.15);
	related_above_unrelated(64, 0.05);
}

Test(embed_hash, unrelated_notes_are_near_orthogonal)
{
	/* Signed hashing keeps collisions from adding up to a false likeness. */
	struct embedder *e = make(384);
	const char *notes[] = {bread_note, tax_note, k8s_note, trip_note};
	for (int a = 0; a < 4; a++)
		for (int b = a + 1; b < 4; b++) {
			double s = sim(e, notes[a], notes[b]);
			cr_assert_lt(fabs(s), 0.1, "notes %d and %d: %.3f", a, b, s);
		}
	embedder_free(e);
}

Test(embed_hash, every_note_nearest_to_itself_with_title_only)
{
	/* A title alone finds its own note among the others. */
	struct embedder *e = make(384);
	const char *notes[] = {bread_note, tax_note, k8s_note, trip_note};
	const char *titles[] = {"Sourdough bread", "Tax return 2023", "Kubernetes deployment",
	                        "Trip to Lisbon"};
	for (int q = 0; q < 4; q++) {
		int best = -1;
		double best_s = -2;
		for (int n = 0; n < 4; n++) {
			double s = sim(e, titles[q], notes[n]);
			if (s > best_s)
				best_s = s, best = n;
		}
		cr_assert_eq(best, q, "\"%s\" found note %d", titles[q], best);
	}
	embedder_free(e);
}

Test(embed_hash, word_forms_match_through_the_stemmer)
{
	struct embedder *e = make(384);
	cr_assert_gt(sim(e, "running", "runs"), sim(e, "running", "taxes") + 0.3);
	cr_assert_gt(sim(e, "organizing my photos", "photo organization"),
	             sim(e, "organizing my photos", "car insurance renewal") + 0.3);
	/* Case and inflection fold to the same word. */
	cr_assert_gt(sim(e, "Baking BREAD", "bake bread"), 0.6);
	embedder_free(e);
}

Test(embed_hash, typos_still_match_through_char_ngrams)
{
	struct embedder *e = make(384);
	const char *pairs[][3] = {
	    {"recieve", "receive", "bicycle"},
	    {"definately", "definitely", "mortgage"},
	    {"sourdugh", "sourdough", "kubernetes"},
	    {"kubernetis deploy", "kubernetes deployment", "sourdough bread"},
	};
	for (int i = 0; i < 4; i++) {
		double typo = sim(e, pairs[i][0], pairs[i][1]);
		double other = sim(e, pairs[i][0], pairs[i][2]);
		cr_assert_gt(typo, other + 0.1, "%s~%s %.3f vs %s %.3f", pairs[i][0], pairs[i][1],
		             typo, pairs[i][2], other);
	}
	embedder_free(e);
}

Test(embed_hash, repeated_words_weigh_sub_linearly)
{
	/* 1 + ln(tf): thirty "bread"s do not drown one "mortgage". */
	struct embedder *e = make(384);
	char text[512] = "";
	for (int i = 0; i < 30; i++)
		strcat(text, "bread ");
	strcat(text, "mortgage");
	double s = sim(e, text, "mortgage");
	cr_assert_gt(s, 0.2, "%.3f", s);
	cr_assert_gt(sim(e, text, "bread"), s);
	embedder_free(e);
}

Test(embed_hash, stop_words_alone_create_no_similarity)
{
	struct embedder *e = make(384);
	float *v = embed1(e, "the of and to is was it what how");
	for (int i = 0; i < 384; i++)
		cr_assert_eq(v[i], 0.0f);
	free(v);
	cr_assert_eq(sim(e, "it was the best of them", "what is this and that of the"), 0.0);
	/* Sentences sharing only stop words are not alike. */
	double s = sim(e, "the bread is in the oven and it is warm",
	               "the tax is in the mail and it is due");
	cr_assert_lt(fabs(s), 0.1, "%.3f", s);
	/* And adding stop words changes nothing. */
	cr_assert_gt(sim(e, "bake sourdough bread", "how do I bake the sourdough bread"), 0.9999);
	embedder_free(e);
}

Test(embed_hash, empty_input_is_a_zero_vector)
{
	struct embedder *e = make(64);
	const char *texts[] = {"", "   \n\t ", "!!! ... --- ???", "🙂🙂"};
	for (int t = 0; t < 4; t++) {
		float *v = embed1(e, texts[t]);
		for (int i = 0; i < 64; i++)
			cr_assert_eq(v[i], 0.0f, "text %d", t);
		/* Cosine with anything is 0, never NaN. */
		float *b = embed1(e, bread_note);
		cr_assert_eq(dot(v, b, 64), 0.0);
		free(b);
		free(v);
	}
	embedder_free(e);
}

Test(embed_hash, unicode_is_folded_sensibly)
{
	struct embedder *e = make(384);
	cr_assert_gt(sim(e, "Café naïve résumé", "cafe naive resume"), 0.9999);
	cr_assert_gt(sim(e, "ÜBER STRAẞE", "über straße"), 0.9999);
	cr_assert_gt(sim(e, "ΑΘΗΝΑ", "αθηνα"), 0.9999);
	cr_assert_gt(sim(e, "МОСКВА", "москва"), 0.9999);
	cr_assert_gt(sim(e, "the user's guide", "users guide"), 0.9999);
	cr_assert_gt(sim(e, "user\u2019s guide", "user's guide"), 0.9999);
	/* Han and kana: each character a word, neighbours a pair. */
	cr_assert_gt(sim(e, "東京の天気", "東京"), sim(e, "東京の天気", "大阪") + 0.2);
	/* Invalid UTF-8 is read as separators, not a crash. */
	float *v = embed1(e, "bad \xff\xfe bytes \xc3 and \xe2\x82 cut");
	double n = sqrt(dot(v, v, 384));
	cr_assert(fabs(n - 1.0) < 1e-5);
	free(v);
	embedder_free(e);
}

Test(embed_hash, null_text_is_invalid)
{
	struct embedder *e = make(64);
	const char *texts[] = {"ok", NULL};
	float v[128];
	struct verror err = {0};
	cr_assert_eq(embedder_embed(e, texts, 2, v, &err), VERR_INVALID);
	embedder_free(e);
}

Test(embed_hash, long_words_and_long_texts)
{
	struct embedder *e = make(384);
	size_t n = 200000;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = (i % 97 == 96) ? ' ' : (char)('a' + (i * 7) % 26);
	big[n] = '\0';
	float *v = embed1(e, big);
	cr_assert(fabs(sqrt(dot(v, v, 384)) - 1.0) < 1e-5);
	free(v);
	free(big);
	embedder_free(e);
}

/* Many threads at once get exactly what one thread gets. */

#define THREADS 8
#define ROUNDS  40

struct job {
	struct embedder *e;
	const char *const *texts;
	size_t n;
	const float *want;
	int mismatches;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	float *v = malloc(j->n * (size_t)j->e->dim * sizeof(float));
	for (int r = 0; r < ROUNDS; r++) {
		struct verror err = {0};
		size_t first = (size_t)r % j->n; /* vary the batch too */
		if (embedder_embed(j->e, j->texts + first, j->n - first, v, &err) != VERR_OK ||
		    memcmp(v, j->want + first * (size_t)j->e->dim,
		           (j->n - first) * (size_t)j->e->dim * sizeof(float)) != 0)
			j->mismatches++;
	}
	free(v);
	return NULL;
}

Test(embed_hash, threads_get_identical_vectors)
{
	struct embedder *e = make(384);
	const char *texts[] = {bread_note, tax_note,           k8s_note,
	                       trip_note,  "running runs ran", "Ünïcödé 東京タワー",
	                       "",         "recieve"};
	size_t n = sizeof(texts) / sizeof(texts[0]);
	float *want = malloc(n * 384 * sizeof(float));
	struct verror err = {0};
	cr_assert_eq(embedder_embed(e, texts, n, want, &err), VERR_OK);

	pthread_t th[THREADS];
	struct job jobs[THREADS];
	for (int i = 0; i < THREADS; i++) {
		jobs[i] = (struct job){e, texts, n, want, 0};
		cr_assert_eq(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(jobs[i].mismatches, 0, "thread %d", i);
	}
	free(want);
	embedder_free(e);
}
