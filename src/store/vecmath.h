/*
 * vecmath.h - the inner loops of the in-process vector search (sqlite_vectors.c).
 */
#ifndef VAULT_STORE_VECMATH_H
#define VAULT_STORE_VECMATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* out[i] = dot(q, vecs + i*dim) for i in [0, n): cosine for unit vectors. */
void vec_dot_many(const float *q, const float *vecs, size_t n, int dim, float *out);

/* Scales v to unit length (a zero vector stays zero). */
void vec_normalize(float *v, int dim);

/* 64-bit words in the sign code of a vector of dim floats. */
#define VEC_CODE_WORDS(dim) (((size_t)(dim) + 63) / 64)

/*
 * The sign code of v about centre: bit d (of word d / 64, bit d % 64) set
 * when v[d] > centre[d]; the bits past dim are 0. code has
 * VEC_CODE_WORDS(dim) words.
 */
void vec_sign_code(const float *v, const float *centre, int dim, uint64_t *code);

/* out[i] = the bits in which q and code i (words 64-bit words each) differ. */
void vec_hamming_many(const uint64_t *q, const uint64_t *codes, size_t n, size_t words,
                      uint16_t *out);

/* With plain set, vec_hamming_many takes its portable C loop on any CPU (for tests). */
void vecmath_force_plain(bool plain);

#endif
