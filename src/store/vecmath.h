/*
 * vecmath.h - the inner loop of the in-process vector search (sqlite_vectors.c).
 */
#ifndef VAULT_STORE_VECMATH_H
#define VAULT_STORE_VECMATH_H

#include <stddef.h>

/* out[i] = dot(q, vecs + i*dim) for i in [0, n): cosine for unit vectors. */
void vec_dot_many(const float *q, const float *vecs, size_t n, int dim, float *out);

/* Scales v to unit length (a zero vector stays zero). */
void vec_normalize(float *v, int dim);

#endif
