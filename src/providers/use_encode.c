/*
 * use_encode.c - the transformer of Universal Sentence Encoder Lite (the
 * computation is spelled out in use.h), in float32 like the graph.
 *
 * Every matrix product goes through OpenBLAS's cblas_sgemm. The pieces of
 * all windows given to one call are stacked into one matrix, so the
 * products with the weights are large (hundreds of rows) and run near the
 * core's peak; attention, the only part that mixes pieces, runs per window
 * and per head. Each call runs on its caller's thread: embed_use.c sets
 * OpenBLAS to one thread and spreads windows over threads itself.
 */
#include "providers/use.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define LN_EPSILON 1e-6f /* the graph's layer_norm/Cast/x */

struct use_scratch {
	size_t tokens; /* rows of each buffer */
	float *x;      /* [tokens][USE_DIM]: the residual stream */
	float *h;      /* [tokens][USE_DIM]: its layer norm */
	float *qkv;    /* [tokens][3 * USE_DIM] */
	float *att;    /* [tokens][USE_DIM]: attention output, heads side by side */
	float *ffn;    /* [tokens][USE_FFN_DIM]; first the embedded input */
	float *scores; /* [USE_MAX_TOKENS][USE_MAX_TOKENS] */
};

struct use_scratch *use_scratch_new(size_t tokens)
{
	struct use_scratch *s = xcalloc(1, sizeof(*s));
	s->tokens = tokens;
	s->x = xmalloc(tokens * USE_DIM * sizeof(float));
	s->h = xmalloc(tokens * USE_DIM * sizeof(float));
	s->qkv = xmalloc(tokens * 3 * USE_DIM * sizeof(float));
	s->att = xmalloc(tokens * USE_DIM * sizeof(float));
	s->ffn = xmalloc(tokens * USE_FFN_DIM * sizeof(float));
	s->scores = xmalloc(USE_MAX_TOKENS * USE_MAX_TOKENS * sizeof(float));
	return s;
}

void use_scratch_free(struct use_scratch *s)
{
	if (!s)
		return;
	free(s->x);
	free(s->h);
	free(s->qkv);
	free(s->att);
	free(s->ffn);
	free(s->scores);
	free(s);
}

size_t use_scratch_tokens(const struct use_scratch *s)
{
	return s->tokens;
}

/* What linear() does with x w + b. */
enum op {
	SET,  /* y = x w + b */
	ADD,  /* y += x w + b: a residual connection */
	RELU, /* y = relu(x w + b) */
};

/* A dense layer on rows rows: y[rows][n] from x[rows][k], w[k][n] and b[n] as op says. */
static void linear(const float *x, size_t rows, int k, const float *w, const float *b, int n,
                   enum op op, float *y)
{
	for (size_t r = 0; r < rows; r++) {
		float *row = y + r * (size_t)n;
		if (op == ADD)
			for (int j = 0; j < n; j++)
				row[j] += b[j];
		else
			memcpy(row, b, (size_t)n * sizeof(float));
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, n, k, 1.0f, x, k, w, n,
	            1.0f, y, n);
	if (op == RELU)
		for (size_t i = 0; i < rows * (size_t)n; i++)
			y[i] = y[i] > 0 ? y[i] : 0;
}

/*
 * y = g * (x - mean) / sqrt(variance + epsilon) + b, row by row, as the
 * graph orders it. The sums run in 16 lanes (d is a multiple of 16), which
 * the compiler turns into vector code.
 */
static void layer_norm(const float *x, size_t rows, int d, const float *g, const float *b, float *y)
{
	for (size_t r = 0; r < rows; r++) {
		const float *in = x + r * (size_t)d;
		float *out = y + r * (size_t)d;
		float s[16] = {0}, q[16] = {0}, mean = 0, var = 0;
		for (int j = 0; j < d; j += 16)
			for (int l = 0; l < 16; l++)
				s[l] += in[j + l];
		for (int l = 0; l < 16; l++)
			mean += s[l];
		mean /= (float)d;
		for (int j = 0; j < d; j += 16)
			for (int l = 0; l < 16; l++)
				q[l] += (in[j + l] - mean) * (in[j + l] - mean);
		for (int l = 0; l < 16; l++)
			var += q[l];
		float inv = 1.0f / sqrtf(var / (float)d + LN_EPSILON);
		for (int j = 0; j < d; j++)
			out[j] = g[j] * inv * (in[j] - mean) + b[j];
	}
}

/*
 * Multi-head self-attention over one window of len pieces: qkv holds each
 * piece's query, key and value (3 * width floats a row), out gets the
 * heads' results side by side (width floats a row). A window attends only
 * to itself, which is what the graph's padding mask does within a batch.
 */
static void attention(const float *qkv, int len, int width, float q_scale, float *scores,
                      float *out)
{
	int hw = width / USE_HEADS, ld = 3 * width;
	for (int h = 0; h < USE_HEADS; h++) {
		const float *q = qkv + h * hw, *k = qkv + width + h * hw,
		            *v = qkv + 2 * width + h * hw;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, hw, q_scale, q, ld,
		            k, ld, 0.0f, scores, len);
		for (int i = 0; i < len; i++) {
			float *row = scores + i * len, max = row[0], sum = 0;
			for (int j = 1; j < len; j++)
				max = row[j] > max ? row[j] : max;
			for (int j = 0; j < len; j++) {
				row[j] = expf(row[j] - max);
				sum += row[j];
			}
			for (int j = 0; j < len; j++)
				row[j] /= sum;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, hw, len, 1.0f, scores,
		            len, v, ld, 0.0f, out + h * hw, width);
	}
}

/*
 * One transformer layer over rows pieces: s->h holds the layer norm of its
 * input (y->width wide), s->x the residual it adds to (USE_DIM wide).
 */
static void layer(const struct use_layer *y, const int *lens, size_t nwin, size_t rows,
                  struct use_scratch *s)
{
	int w = y->width;
	linear(s->h, rows, w, y->qkv_w, y->qkv_b, 3 * w, SET, s->qkv);
	for (size_t i = 0, at = 0; i < nwin; at += (size_t)lens[i++])
		attention(s->qkv + at * 3 * (size_t)w, lens[i], w, y->q_scale, s->scores,
		          s->att + at * (size_t)w);
	linear(s->att, rows, w, y->out_w, y->out_b, USE_DIM, ADD, s->x);
	layer_norm(s->x, rows, USE_DIM, y->ln2_g, y->ln2_b, s->h);
	linear(s->h, rows, USE_DIM, y->ffn1_w, y->ffn1_b, USE_FFN_DIM, RELU, s->ffn);
	linear(s->ffn, rows, USE_FFN_DIM, y->ffn2_w, y->ffn2_b, USE_DIM, ADD, s->x);
}

void use_encode(const struct use_model *m, const int32_t *ids, const int *lens, size_t nwin,
                struct use_scratch *s, float *sums)
{
	size_t rows = 0;
	float *in = s->ffn; /* free until the first feed-forward */
	for (size_t i = 0; i < nwin; i++)
		for (int p = 0; p < lens[i]; p++, rows++) {
			const float *e = m->embed + (size_t)ids[rows] * USE_EMBED_DIM;
			const float *t = m->timing + (size_t)p * USE_EMBED_DIM;
			float *row = in + rows * USE_EMBED_DIM;
			for (int j = 0; j < USE_EMBED_DIM; j++)
				row[j] = e[j] + (e[j] + t[j]);
		}

	linear(in, rows, USE_EMBED_DIM, m->res_w, m->res_b, USE_DIM, SET, s->x);
	layer_norm(in, rows, USE_EMBED_DIM, m->layer[0].ln1_g, m->layer[0].ln1_b, s->h);
	layer(&m->layer[0], lens, nwin, rows, s);
	layer_norm(s->x, rows, USE_DIM, m->layer[1].ln1_g, m->layer[1].ln1_b, s->h);
	layer(&m->layer[1], lens, nwin, rows, s);

	const float *x = s->x;
	for (size_t i = 0; i < nwin; i++) {
		float *sum = sums + i * USE_DIM;
		memset(sum, 0, USE_DIM * sizeof(float));
		for (int p = 0; p < lens[i]; p++, x += USE_DIM)
			for (int j = 0; j < USE_DIM; j++)
				sum[j] += x[j];
	}
}

void use_head(const struct use_model *m, float *pooled, size_t n)
{
	float *y = xmalloc(n * USE_DIM * sizeof(float));
	linear(pooled, n, USE_DIM, m->tanh_w, m->tanh_b, USE_DIM, SET, y);
	for (size_t i = 0; i < n; i++) {
		float *v = y + i * USE_DIM, norm = 0;
		for (int j = 0; j < USE_DIM; j++) {
			v[j] = tanhf(v[j]);
			norm += v[j] * v[j];
		}
		/* The graph's l2_normalize: x / sqrt(max(sum of squares, 1e-12)). */
		float inv = 1.0f / sqrtf(norm > 1e-12f ? norm : 1e-12f);
		for (int j = 0; j < USE_DIM; j++)
			pooled[i * USE_DIM + j] = v[j] * inv;
	}
	free(y);
}
