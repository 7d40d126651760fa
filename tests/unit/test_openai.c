/*
 * test_openai.c - unit tests of the OpenAI-compatible providers
 * (providers/openai.c, embed_openai.c, llm_openai.c, llm_none.c and the
 * factories) against the fake server of tests/common over real HTTP:
 * batching, normalisation, dimension checks, retries and Retry-After,
 * timeouts, garbage answers, the circuit breaker, the API key, streaming
 * and cancelling, plus the SSE parser fed byte by byte.
 *
 * Backoffs and the breaker's cool-down are shortened through the test
 * environment variables openai.h documents, so the suite runs in seconds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fake_openai.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "providers/embedder.h"
#include "providers/llm.h"
#include "providers/openai.h"

#define DIM      16
#define KEY      "sk-test-SECRET-4f9a7c2e1b"
#define COOLDOWN 300 /* ms, VAULT_TEST_AI_COOLDOWN_MS */

static FILE *logf_;
static struct fake_openai *fake;

static void setup(void)
{
	setenv("VAULT_TEST_AI_BACKOFF_MS", "10", 1);
	setenv("VAULT_TEST_AI_COOLDOWN_MS", "300", 1);
	logf_ = tmpfile();
	cr_assert(logf_);
	log_init(LOG_DEBUG, LOG_JSON, logf_);
	cr_assert(fake_openai_start(&fake), "fake server did not start");
	fake_openai_set_dim(fake, DIM); /* the size of "test-embed" */
}

static void teardown(void)
{
	fake_openai_stop(fake);
	fake = NULL;
	log_init(LOG_INFO, LOG_JSON, NULL);
	if (logf_)
		fclose(logf_);
}

TestSuite(openai, .init = setup, .fini = teardown, .timeout = 30);

/* A config for the fake: openai for both, no key, DIM dims, batch 64, 2 s, 3 retries. */
static struct config test_cfg(void)
{
	struct config c = {0};
	c.embedding_provider = EMBED_OPENAI;
	c.embedding_model = (char *)"test-embed";
	c.embedding_dim = DIM;
	c.embed_batch_size = 64;
	c.openai_base_url = (char *)fake_openai_url(fake);
	c.llm_provider = LLM_OPENAI;
	c.llm_model = (char *)"test-chat";
	c.ai_timeout_seconds = 2;
	c.ai_max_retries = 3;
	return c;
}

static struct embedder *new_embedder(const struct config *c)
{
	struct embedder *e = NULL;
	struct verror err = {0};
	cr_assert_eq(embedder_new(c, &e, &err), VERR_OK, "%s", err.detail);
	return e;
}

static struct llm *new_llm(const struct config *c)
{
	struct llm *l = NULL;
	struct verror err = {0};
	cr_assert_eq(llm_new(c, &l, &err), VERR_OK, "%s", err.detail);
	return l;
}

/* Embeds one text; returns the code, leaving the detail in err. */
static enum verr embed1(struct embedder *e, const char *text, float *out, struct verror *err)
{
	const char *texts[] = {text};
	verr_clear(err);
	return embedder_embed(e, texts, 1, out, err);
}

/* The fake's vector for text, normalised as the client must. */
static void expected_vector(const char *text, int dim, float *out)
{
	fake_openai_vector(text, dim, out);
	double s = 0;
	for (int k = 0; k < dim; k++)
		s += (double)out[k] * out[k];
	for (int k = 0; k < dim; k++)
		out[k] = (float)(out[k] / sqrt(s));
}

/* Everything logged so far; caller frees. */
static char *read_log(void)
{
	fflush(logf_);
	long n = ftell(logf_);
	cr_assert(n >= 0);
	char *s = calloc(1, (size_t)n + 1);
	rewind(logf_);
	cr_assert_eq(fread(s, 1, (size_t)n, logf_), (size_t)n);
	fseek(logf_, 0, SEEK_END);
	return s;
}

/* ------------------------------------------------------------------ */
/* Embeddings. */

Test(openai, batches_in_order)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	cr_assert_eq(e->dim, DIM);
	cr_assert_eq(e->max_batch, 64);
	cr_assert_str_eq(e->model, "test-embed");

	enum { N = 150 };
	char *texts[N];
	for (int i = 0; i < N; i++) {
		texts[i] = malloc(64);
		snprintf(texts[i], 64, "note %d about topic %d", i, i * 7);
	}
	float *out = malloc(sizeof(float) * N * DIM);
	struct verror err = {0};
	cr_assert_eq(embedder_embed(e, (const char *const *)texts, N, out, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 3);
	cr_assert_eq(fake_openai_batch_size(fake, 0), 64);
	cr_assert_eq(fake_openai_batch_size(fake, 1), 64);
	cr_assert_eq(fake_openai_batch_size(fake, 2), 22);
	cr_assert_eq(fake_openai_batch_size(fake, 3), -1);
	/* The fake lists data[] backwards: only sorting by index gets this right. */
	float want[DIM];
	for (int i = 0; i < N; i++) {
		expected_vector(texts[i], DIM, want);
		for (int k = 0; k < DIM; k++)
			cr_assert_float_eq(out[i * DIM + k], want[k], 1e-5, "text %d dim %d", i, k);
		free(texts[i]);
	}
	free(out);
	embedder_free(e);
}

Test(openai, vectors_are_normalised_and_deterministic)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	const char *texts[] = {"the cat sat on the mat", "quarterly tax filing",
	                       "the cat sat on the mat"};
	float out[3 * DIM];
	struct verror err = {0};
	cr_assert_eq(embedder_embed(e, texts, 3, out, &err), VERR_OK, "%s", err.detail);
	for (int i = 0; i < 3; i++) {
		double s = 0;
		for (int k = 0; k < DIM; k++)
			s += (double)out[i * DIM + k] * out[i * DIM + k];
		cr_assert_float_eq(s, 1.0, 1e-5, "text %d has norm^2 %f", i, s);
	}
	/* The fake's raw vectors are far from unit length, so this was the client's doing. */
	float raw[DIM];
	fake_openai_vector(texts[1], DIM, raw);
	double rs = 0;
	for (int k = 0; k < DIM; k++)
		rs += (double)raw[k] * raw[k];
	cr_assert(fabs(rs - 1.0) > 0.1);
	cr_assert_arr_eq(out, out + 2 * DIM, sizeof(float) * DIM);
	cr_assert(memcmp(out, out + DIM, sizeof(float) * DIM) != 0);
	cr_assert_eq(embedder_embed(e, texts, 0, out, &err), VERR_OK);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 1, "n = 0 sends nothing");
	embedder_free(e);
}

Test(openai, huge_or_tiny_components_still_give_unit_vectors)
{
	/* 1e300 was inf as a float and the vector NaN, stored as such. */
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float want[DIM], got[DIM];
	struct verror err;
	cr_assert_eq(embed1(e, "scale", want, &err), VERR_OK, "%s", err.detail);
	for (int exp = -300; exp <= 300; exp += 150) {
		fake_openai_set_scale_exp(fake, exp);
		cr_assert_eq(embed1(e, "scale", got, &err), VERR_OK, "10^%d: %s", exp, err.detail);
		double norm = 0;
		for (int k = 0; k < DIM; k++) {
			cr_assert(isfinite(got[k]), "10^%d: component %d is %f", exp, k, got[k]);
			cr_assert_float_eq(got[k], want[k], 1e-5, "10^%d: component %d", exp, k);
			norm += (double)got[k] * got[k];
		}
		cr_assert_float_eq(norm, 1.0, 1e-4, "10^%d: norm %f", exp, norm);
	}
	embedder_free(e);
}

Test(openai, dimensions_sent_only_to_text_embedding_3)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	char *body = fake_openai_last_body(fake, FAKE_EP_EMBEDDINGS);
	cr_assert(strstr(body, "\"model\":\"test-embed\""), "%s", body);
	cr_assert(strstr(body, "\"input\":[\"hello\"]"), "%s", body);
	cr_assert_null(strstr(body, "dimensions"), "%s", body);
	free(body);
	embedder_free(e);

	c.embedding_model = (char *)"text-embedding-3-small";
	e = new_embedder(&c);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	body = fake_openai_last_body(fake, FAKE_EP_EMBEDDINGS);
	cr_assert(strstr(body, "\"dimensions\":16"), "%s", body);
	free(body);
	embedder_free(e);
}

Test(openai, wrong_dimensions_are_a_clear_error)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_WRONG_DIM, 1);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert(strstr(err.detail, "AI service unavailable: "), "%s", err.detail);
	cr_assert(strstr(err.detail, "returned 8 dimensions, expected 16"), "%s", err.detail);

	/* A model whose own size is not EMBEDDING_DIM. */
	fake_openai_set_dim(fake, 768);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert(strstr(err.detail, "returned 768 dimensions, expected 16"), "%s", err.detail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 2, "not retried");
	embedder_free(e);
}

/* ------------------------------------------------------------------ */
/* Retries and timeouts. */

Test(openai, retry_after_is_honoured)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_429, 1);
	fake_openai_set_retry_after(fake, 1);
	double t0 = time_mono_ms();
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	double el = time_mono_ms() - t0;
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 2);
	cr_assert(el >= 1000, "retried after %.0f ms, before Retry-After", el);
	cr_assert(el < 3000, "took %.0f ms", el);
	char *log = read_log();
	cr_assert(strstr(log, "\"event\":\"ai_request_retry\""), "%s", log);
	cr_assert(strstr(log, "\"status\":429"), "%s", log);
	cr_assert(strstr(log, "\"retry_in_ms\":1000"), "%s", log);
	free(log);
	embedder_free(e);
}

Test(openai, retry_after_too_long_is_not_waited_for)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_429, FAKE_ALWAYS);
	fake_openai_set_retry_after(fake, 3600);
	double t0 = time_mono_ms();
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert(time_mono_ms() - t0 < 1000);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 1);
	cr_assert_str_eq(err.detail,
	                 "AI service unavailable: rate limited (HTTP 429), retry after 3600 s");
	embedder_free(e);
}

Test(openai, key_with_control_characters_is_refused)
{
	struct config c = test_cfg();
	c.openai_api_key = (char *)"sk-abc\r\nX-Evil: 1";
	struct embedder *e = NULL;
	struct verror err = {0};
	cr_assert_eq(embedder_new(&c, &e, &err), VERR_INVALID);
	cr_assert_null(e);
	cr_assert_str_eq(err.detail, "OPENAI_API_KEY: must not contain control characters");
}

Test(openai, server_errors_twice_then_success)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM], want[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_500, 2);
	cr_assert_eq(embed1(e, "hello world", v, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 3);
	expected_vector("hello world", DIM, want);
	for (int k = 0; k < DIM; k++)
		cr_assert_float_eq(v[k], want[k], 1e-5);
	embedder_free(e);
}

Test(openai, dropped_connection_is_retried)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_DISCONNECT, 1);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 2);
	embedder_free(e);
}

Test(openai, retries_exhausted_fail_in_bounded_time)
{
	struct config c = test_cfg();
	c.ai_max_retries = 2;
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_500, FAKE_ALWAYS);
	double t0 = time_mono_ms();
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	double el = time_mono_ms() - t0;
	cr_assert_eq(err.code, VERR_AI_UNAVAILABLE);
	cr_assert_eq(verr_status(err.code), 503);
	cr_assert_str_eq(err.detail, "AI service unavailable: HTTP 500 (after 3 attempts)");
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 3);
	/* Backoff base 10 ms: at most 10 + 20 ms of waiting. */
	cr_assert(el < 1500, "took %.0f ms", el);
	char *log = read_log();
	cr_assert(strstr(log, "\"event\":\"ai_request_failed\""), "%s", log);
	cr_assert(strstr(log, "\"attempt\":3"), "%s", log);
	cr_assert(strstr(log, "\"elapsed_ms\":"), "%s", log);
	free(log);
	embedder_free(e);
}

Test(openai, client_errors_are_not_retried)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_400, FAKE_ALWAYS);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: HTTP 400");
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 1);
	embedder_free(e);
}

Test(openai, slow_server_times_out)
{
	struct config c = test_cfg();
	c.ai_timeout_seconds = 1;
	c.ai_max_retries = 0;
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_SLOW, FAKE_ALWAYS);
	fake_openai_set_delay_ms(fake, 10000);
	double t0 = time_mono_ms();
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	double el = time_mono_ms() - t0;
	cr_assert_str_eq(err.detail, "AI service unavailable: timed out after 1 s");
	cr_assert(el >= 900 && el < 2500, "took %.0f ms", el);
	embedder_free(e);
}

Test(openai, stalled_body_times_out)
{
	struct config c = test_cfg();
	c.ai_timeout_seconds = 1;
	c.ai_max_retries = 1;
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_STALL, FAKE_ALWAYS);
	double t0 = time_mono_ms();
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	double el = time_mono_ms() - t0;
	cr_assert(strstr(err.detail, "timed out after 1 s (after 2 attempts)"), "%s", err.detail);
	cr_assert(el < 4000, "took %.0f ms", el);
	embedder_free(e);
}

Test(openai, garbage_answers_are_unavailable)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_TRUNCATED, 1);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: invalid JSON from provider");
	fake_openai_set_mode(fake, FAKE_INVALID_JSON, 1);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: invalid JSON from provider");
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 2, "garbage is not retried");
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	embedder_free(e);
}

Test(openai, unreachable_server)
{
	struct config c = test_cfg();
	c.ai_max_retries = 1;
	/* The fake's port once it has stopped: nothing listens there. */
	char url[64];
	snprintf(url, sizeof(url), "%s", fake_openai_url(fake));
	fake_openai_stop(fake);
	fake = NULL;
	c.openai_base_url = url;
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: cannot connect (after 2 attempts)");
	embedder_free(e);
}

Test(openai, factory_picks_the_provider)
{
	struct config c = test_cfg();
	c.embedding_provider = EMBED_LOCAL;
	c.embedding_model = (char *)"local-hash-v1";
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_ANY), 0, "local never calls out");
	embedder_free(e);

	c.embedding_provider = EMBED_OPENAI;
	e = new_embedder(&c);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 1);
	embedder_free(e);

	c.embedding_provider = (enum embedding_provider)42;
	cr_assert_eq(embedder_new(&c, &e, &err), VERR_INVALID);
	cr_assert_null(e);
	struct llm *l = NULL;
	c.llm_provider = (enum llm_provider)42;
	cr_assert_eq(llm_new(&c, &l, &err), VERR_INVALID);
	cr_assert_null(l);
}

Test(openai, bad_base_url_is_invalid)
{
	struct config c = test_cfg();
	c.openai_base_url = (char *)"ftp://example.com/v1";
	struct embedder *e = NULL;
	struct verror err = {0};
	cr_assert_eq(embedder_new(&c, &e, &err), VERR_INVALID);
	cr_assert_null(e);
	cr_assert(strstr(err.detail, "OPENAI_BASE_URL"), "%s", err.detail);
}

/* ------------------------------------------------------------------ */
/* Circuit breaker. */

Test(openai, breaker_opens_fails_fast_and_half_opens)
{
	struct config c = test_cfg();
	c.ai_max_retries = 1;
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_500, FAKE_ALWAYS);
	for (int i = 0; i < OPENAI_BREAKER_THRESHOLD; i++)
		cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	int seen = fake_openai_requests(fake, FAKE_EP_EMBEDDINGS);
	cr_assert_eq(seen, OPENAI_BREAKER_THRESHOLD * 2, "each failed request tried twice");

	/* Open: fails at once, and nothing reaches the server. */
	double t0 = time_mono_ms();
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert(time_mono_ms() - t0 < 50);
	cr_assert_str_eq(err.detail, "AI service unavailable: circuit open after 5 failures");
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), seen);

	/* Half-open with the server still down: one trial, one attempt, open again. */
	struct timespec cool = {0, (COOLDOWN + 50) * 1000000L};
	nanosleep(&cool, NULL);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: HTTP 500");
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), seen + 1);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert(strstr(err.detail, "circuit open"), "%s", err.detail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), seen + 1);

	/* Half-open with the server back: the trial closes the breaker. */
	fake_openai_set_mode(fake, FAKE_OK, FAKE_ALWAYS);
	nanosleep(&cool, NULL);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), seen + 3);

	char *log = read_log();
	cr_assert(strstr(log, "\"event\":\"ai_circuit_open\""), "%s", log);
	cr_assert(strstr(log, "\"event\":\"ai_circuit_closed\""), "%s", log);
	free(log);
	embedder_free(e);
}

Test(openai, breaker_ignores_client_errors)
{
	struct config c = test_cfg();
	c.ai_max_retries = 0;
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_mode(fake, FAKE_400, FAKE_ALWAYS);
	for (int i = 0; i < OPENAI_BREAKER_THRESHOLD + 2; i++) {
		cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
		cr_assert_str_eq(err.detail, "AI service unavailable: HTTP 400");
	}
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), OPENAI_BREAKER_THRESHOLD + 2);
	embedder_free(e);
}

/* Each provider instance has its own breaker. */
Test(openai, breaker_is_per_instance)
{
	struct config c = test_cfg();
	c.ai_max_retries = 0;
	struct embedder *e = new_embedder(&c);
	struct llm *l = new_llm(&c);
	float v[DIM];
	struct verror err;
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_500, FAKE_ALWAYS);
	for (int i = 0; i <= OPENAI_BREAKER_THRESHOLD; i++)
		cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE);
	cr_assert(strstr(err.detail, "circuit open"), "%s", err.detail);
	struct llm_message m = {"user", "hi"};
	char *answer = NULL;
	cr_assert_eq(llm_chat(l, &m, 1, NULL, NULL, &answer, &err), VERR_OK, "%s", err.detail);
	free(answer);
	llm_free(l);
	embedder_free(e);
}

struct worker_arg {
	struct embedder *e;
	int ok;
};

static void *embed_many(void *p)
{
	struct worker_arg *w = p;
	float v[DIM];
	struct verror err;
	for (int i = 0; i < 10; i++)
		w->ok += embed1(w->e, "concurrent text", v, &err) == VERR_OK;
	return NULL;
}

Test(openai, concurrent_calls)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	pthread_t t[4];
	struct worker_arg w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker_arg){e, 0};
		pthread_create(&t[i], NULL, embed_many, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(w[i].ok, 10);
	}
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 40);
	embedder_free(e);
}

/* ------------------------------------------------------------------ */
/* The API key. */

Test(openai, key_sent_as_bearer_only_when_set)
{
	struct config c = test_cfg();
	struct embedder *e = new_embedder(&c);
	float v[DIM];
	struct verror err;
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	cr_assert_null(fake_openai_last_auth(fake));
	embedder_free(e);

	c.openai_api_key = (char *)KEY;
	e = new_embedder(&c);
	cr_assert_eq(embed1(e, "hello", v, &err), VERR_OK, "%s", err.detail);
	char *auth = fake_openai_last_auth(fake);
	cr_assert_str_eq(auth, "Bearer " KEY);
	free(auth);
	struct llm *l = new_llm(&c);
	struct llm_message m = {"user", "hi"};
	char *answer = NULL;
	cr_assert_eq(llm_chat(l, &m, 1, NULL, NULL, &answer, &err), VERR_OK, "%s", err.detail);
	free(answer);
	auth = fake_openai_last_auth(fake);
	cr_assert_str_eq(auth, "Bearer " KEY);
	free(auth);
	cr_assert_eq(fake_openai_auth_count(fake), 2);
	llm_free(l);
	embedder_free(e);
}

Test(openai, key_never_in_errors_or_logs)
{
	struct config c = test_cfg();
	c.openai_api_key = (char *)KEY;
	c.ai_max_retries = 1;
	struct embedder *e = new_embedder(&c);
	struct llm *l = new_llm(&c);
	float v[DIM];
	struct verror err;
	struct llm_message m = {"user", "hi"};
	char *answer = NULL;
	enum fake_mode modes[] = {FAKE_500,       FAKE_400,       FAKE_429,       FAKE_INVALID_JSON,
	                          FAKE_TRUNCATED, FAKE_WRONG_DIM, FAKE_DISCONNECT};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		fake_openai_set_mode(fake, modes[i], FAKE_ALWAYS);
		cr_assert_eq(embed1(e, "hello", v, &err), VERR_AI_UNAVAILABLE, "mode %zu", i);
		cr_assert_null(strstr(err.detail, "SECRET"), "%s", err.detail);
		if (modes[i] == FAKE_WRONG_DIM)
			continue; /* chat has no dimensions to get wrong */
		cr_assert_eq(llm_chat(l, &m, 1, NULL, NULL, &answer, &err), VERR_AI_UNAVAILABLE);
		cr_assert_null(strstr(err.detail, "SECRET"), "%s", err.detail);
	}
	char *log = read_log();
	cr_assert(strstr(log, "ai_request_retry") && strstr(log, "ai_request_failed"), "%s", log);
	cr_assert_null(strstr(log, "SECRET"), "%s", log);
	cr_assert_null(strstr(log, "Bearer"), "%s", log);
	cr_assert_null(strstr(log, "hello"), "texts stay out of logs: %s", log);
	free(log);
	llm_free(l);
	embedder_free(e);
}

/* ------------------------------------------------------------------ */
/* Chat. */

Test(openai, chat_whole_answer)
{
	struct config c = test_cfg();
	struct llm *l = new_llm(&c);
	cr_assert_str_eq(l->model, "test-chat");
	struct llm_message msgs[] = {
	    {"system", "Answer from the sources; cite them as [1]."},
	    {"user", "Sources:\n[1] Meeting moved\n[2] Room 4\n\nQuestion: when?"},
	};
	char *answer = NULL;
	struct verror err = {0};
	cr_assert_eq(llm_chat(l, msgs, 2, NULL, NULL, &answer, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(answer, FAKE_DEFAULT_ANSWER);
	free(answer);
	char *sent = fake_openai_last_messages(fake);
	cr_assert(strstr(sent, "\"role\":\"system\""), "%s", sent);
	cr_assert(strstr(sent, "[1] Meeting moved\\n[2] Room 4"), "%s", sent);
	free(sent);
	char *body = fake_openai_last_body(fake, FAKE_EP_CHAT);
	cr_assert(strstr(body, "\"model\":\"test-chat\""), "%s", body);
	cr_assert(strstr(body, "\"stream\":false"), "%s", body);
	cr_assert(strstr(body, "\"temperature\":0.2"), "%s", body);
	free(body);
	llm_free(l);
}

struct deltas {
	char text[4096];
	size_t len;
	int calls;
	int stop_at; /* return nonzero on this call (from 1); 0: never */
	bool lone_bracket;
	int probes; /* calls with len 0: is the answer still wanted? */
	bool gone;  /* what a probe answers */
};

static int on_delta(void *ctx, const char *text, size_t len)
{
	struct deltas *d = ctx;
	if (len == 0)
		return d->probes++, d->gone;
	cr_assert(d->len + len < sizeof(d->text));
	memcpy(d->text + d->len, text, len);
	d->len += len;
	d->text[d->len] = '\0';
	if (len == 1 && text[0] == '[')
		d->lone_bracket = true;
	return ++d->calls == d->stop_at;
}

Test(openai, chat_stream_relays_deltas)
{
	struct config c = test_cfg();
	struct llm *l = new_llm(&c);
	const char *want = "Café naïve — see [1] and [2]; also [12].";
	fake_openai_set_answer(fake, want);
	struct llm_message m = {"user", "q"};
	struct deltas d = {0};
	char *answer = NULL;
	struct verror err = {0};
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(answer, want);
	cr_assert_str_eq(d.text, want);
	cr_assert(d.calls > 10, "%d deltas", d.calls);
	cr_assert(d.lone_bracket, "\"[\" arrived alone, apart from \"1]\"");
	char *body = fake_openai_last_body(fake, FAKE_EP_CHAT);
	cr_assert(strstr(body, "\"stream\":true"), "%s", body);
	free(body);
	free(answer);
	llm_free(l);
}

Test(openai, chat_stream_cancel)
{
	struct config c = test_cfg();
	struct llm *l = new_llm(&c);
	struct llm_message m = {"user", "q"};
	struct deltas d = {.stop_at = 2};
	char *answer = (char *)"untouched";
	struct verror err = {0};
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_AI_UNAVAILABLE);
	cr_assert_null(answer);
	cr_assert_str_eq(err.detail, "AI service unavailable: cancelled");
	cr_assert_eq(d.calls, 2);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 1);
	llm_free(l);
}

Test(openai, a_silent_stream_ends_when_nobody_waits)
{
	/* Before, a stream stuck in a silent provider ran to the provider's
	 * timeout (here 60 s) whether or not anyone still waited. */
	struct config c = test_cfg();
	c.ai_timeout_seconds = 60;
	struct llm *l = new_llm(&c);
	fake_openai_set_delay_ms(fake, 30000);
	fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, FAKE_STALL, FAKE_ALWAYS);
	struct llm_message m = {"user", "q"};
	struct deltas d = {.gone = true};
	char *answer = NULL;
	struct verror err = {0};
	double t0 = time_mono_ms();
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_AI_UNAVAILABLE);
	cr_assert_lt(time_mono_ms() - t0, 5000, "the stream went on for %.0f ms",
	             time_mono_ms() - t0);
	cr_assert_gt(d.probes, 0);
	cr_assert_str_eq(err.detail, "AI service unavailable: cancelled");
	cr_assert_null(answer);
	llm_free(l);
}

struct nested {
	struct embedder *e;
	int calls;
	enum verr rc;
};

/* Embeds from inside on_delta: the stream's curl handle must stay untouched. */
static int embed_in_delta(void *ctx, const char *text, size_t len)
{
	(void)text, (void)len;
	struct nested *n = ctx;
	float v[DIM];
	struct verror err;
	if (n->calls++ == 0)
		n->rc = embed1(n->e, "inside a delta", v, &err);
	return 0;
}

Test(openai, callbacks_may_call_the_providers)
{
	struct config c = test_cfg();
	struct llm *l = new_llm(&c);
	struct nested n = {.e = new_embedder(&c), .rc = VERR_INTERNAL};
	struct llm_message m = {"user", "q"};
	char *answer = NULL;
	struct verror err = {0};
	cr_assert_eq(llm_chat(l, &m, 1, embed_in_delta, &n, &answer, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n.rc, VERR_OK);
	cr_assert_str_eq(answer, FAKE_DEFAULT_ANSWER);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 1);
	free(answer);
	embedder_free(n.e);
	llm_free(l);
}

Test(openai, chat_stream_retries_before_any_text)
{
	struct config c = test_cfg();
	struct llm *l = new_llm(&c);
	struct llm_message m = {"user", "q"};
	struct deltas d = {0};
	char *answer = NULL;
	struct verror err = {0};
	fake_openai_set_mode(fake, FAKE_500, 2);
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(d.text, FAKE_DEFAULT_ANSWER);
	cr_assert_str_eq(answer, FAKE_DEFAULT_ANSWER);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 3);
	free(answer);
	llm_free(l);
}

Test(openai, chat_stream_stall_after_text_is_not_retried)
{
	struct config c = test_cfg();
	c.ai_timeout_seconds = 1;
	struct llm *l = new_llm(&c);
	struct llm_message m = {"user", "q"};
	struct deltas d = {0};
	char *answer = NULL;
	struct verror err = {0};
	fake_openai_set_mode(fake, FAKE_STALL, FAKE_ALWAYS);
	fake_openai_set_delay_ms(fake, 10000);
	double t0 = time_mono_ms();
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_AI_UNAVAILABLE);
	double el = time_mono_ms() - t0;
	cr_assert_null(answer);
	cr_assert_str_eq(err.detail, "AI service unavailable: no data for 1 s");
	cr_assert(d.calls > 0);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 1);
	cr_assert(el < 3000, "took %.0f ms", el);
	llm_free(l);
}

Test(openai, chat_stream_slow_start_times_out)
{
	struct config c = test_cfg();
	c.ai_timeout_seconds = 1;
	c.ai_max_retries = 0;
	struct llm *l = new_llm(&c);
	struct llm_message m = {"user", "q"};
	struct deltas d = {0};
	char *answer = NULL;
	struct verror err = {0};
	fake_openai_set_mode(fake, FAKE_SLOW, FAKE_ALWAYS);
	fake_openai_set_delay_ms(fake, 10000);
	double t0 = time_mono_ms();
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_AI_UNAVAILABLE);
	double el = time_mono_ms() - t0;
	cr_assert_str_eq(err.detail, "AI service unavailable: no data for 1 s");
	cr_assert_eq(d.calls, 0);
	cr_assert(el >= 900 && el < 3000, "took %.0f ms", el);
	llm_free(l);
}

Test(openai, chat_garbage_is_unavailable)
{
	struct config c = test_cfg();
	struct llm *l = new_llm(&c);
	struct llm_message m = {"user", "q"};
	char *answer = NULL;
	struct verror err = {0};
	struct deltas d = {0};
	fake_openai_set_mode(fake, FAKE_INVALID_JSON, 1);
	cr_assert_eq(llm_chat(l, &m, 1, NULL, NULL, &answer, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: invalid JSON from provider");
	fake_openai_set_mode(fake, FAKE_TRUNCATED, 1);
	cr_assert_eq(llm_chat(l, &m, 1, NULL, NULL, &answer, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: invalid JSON from provider");

	fake_openai_set_mode(fake, FAKE_INVALID_JSON, 1);
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: invalid JSON from provider");
	cr_assert_null(answer);
	/* Truncated mid-event after half the answer: relayed text, then an error. */
	d = (struct deltas){0};
	fake_openai_set_mode(fake, FAKE_TRUNCATED, 1);
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_AI_UNAVAILABLE);
	cr_assert_str_eq(err.detail, "AI service unavailable: invalid JSON from provider");
	cr_assert(d.calls > 0 && d.len < strlen(FAKE_DEFAULT_ANSWER));
	cr_assert_null(answer);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 4, "garbage is not retried");
	llm_free(l);
}

Test(openai, llm_none_is_503)
{
	struct config c = test_cfg();
	c.llm_provider = LLM_NONE;
	struct llm *l = new_llm(&c);
	struct llm_message m = {"user", "q"};
	char *answer = (char *)"untouched";
	struct verror err = {0};
	struct deltas d = {0};
	cr_assert_eq(llm_chat(l, &m, 1, on_delta, &d, &answer, &err), VERR_AI_UNAVAILABLE);
	cr_assert_eq(verr_status(err.code), 503);
	cr_assert_str_eq(err.detail, "AI service unavailable: no LLM provider configured "
	                             "(set LLM_PROVIDER=openai)");
	cr_assert_null(answer);
	cr_assert_eq(d.calls, 0);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_ANY), 0);
	llm_free(l);
	llm_free(NULL);
	embedder_free(NULL);
}

/* ------------------------------------------------------------------ */
/* The SSE parser. */

struct events {
	char all[1024];
	int n;
};

static int collect(void *ctx, const char *data, size_t len)
{
	struct events *ev = ctx;
	cr_assert_eq(strlen(data), len, "NUL-terminated");
	strcat(ev->all, data);
	strcat(ev->all, "|");
	ev->n++;
	return 0;
}

static const char sse_input[] = ": comment\r\n"
                                "data: one\n\n"
                                "event: message\r\n"
                                "data:two\r\n"
                                "data:  three\r\n\r\n"
                                "id: 7\r"
                                "data: four\r\r"
                                "data: {\"a\": \"x:y\"}\n"
                                "\n"
                                ":only a comment\n\n"
                                "retry: 10\n\n"
                                "data\n\n"
                                "data: [DONE]\n\n"
                                "data: tail";
static const char sse_want[] = "one|two\n three|four|{\"a\": \"x:y\"}||[DONE]|tail|";

Test(openai, sse_parser_byte_by_byte)
{
	struct sse_parser p;
	struct events ev = {0};
	sse_init(&p, 1024);
	for (size_t i = 0; i < sizeof(sse_input) - 1; i++)
		cr_assert_eq(sse_feed(&p, sse_input + i, 1, collect, &ev), 0);
	cr_assert_eq(sse_finish(&p, collect, &ev), 0);
	cr_assert_str_eq(ev.all, sse_want);
	sse_cleanup(&p);

	/* All at once, and in uneven pieces, the same. */
	for (size_t step = 2; step < 40; step += 7) {
		memset(&ev, 0, sizeof(ev));
		sse_init(&p, 1024);
		for (size_t i = 0; i < sizeof(sse_input) - 1; i += step) {
			size_t n =
			    sizeof(sse_input) - 1 - i < step ? sizeof(sse_input) - 1 - i : step;
			cr_assert_eq(sse_feed(&p, sse_input + i, n, collect, &ev), 0);
		}
		cr_assert_eq(sse_finish(&p, collect, &ev), 0);
		cr_assert_str_eq(ev.all, sse_want, "step %zu", step);
		sse_cleanup(&p);
	}
}

static int stop_at_second(void *ctx, const char *data, size_t len)
{
	(void)data, (void)len;
	return ++*(int *)ctx == 2 ? 42 : 0;
}

Test(openai, sse_parser_limits_and_stop)
{
	struct sse_parser p;
	int calls = 0;
	sse_init(&p, 1024);
	const char *in = "data: a\n\ndata: b\n\ndata: c\n\n";
	cr_assert_eq(sse_feed(&p, in, strlen(in), stop_at_second, &calls), 42);
	cr_assert_eq(calls, 2);
	sse_cleanup(&p);

	sse_init(&p, 16);
	struct events ev = {0};
	cr_assert_eq(sse_feed(&p, "data: 0123456789abcdef", 22, collect, &ev), -1);
	cr_assert_eq(ev.n, 0);
	sse_cleanup(&p);
}
