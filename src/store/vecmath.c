/*
 * vecmath.c - dot products written for SIMD.
 *
 * Eight independent float lanes (GCC vector extensions) let the compiler use
 * SSE or AVX registers without -ffast-math, which a plain scalar reduction
 * would need; target_clones builds an AVX2+FMA variant picked at load time
 * on CPUs that have it.
 */
#include "store/vecmath.h"

#include <math.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));

/* clang 14 (the fuzz build) names the dispatcher "vec_dot_many.ifunc", which
 * other files cannot link to; GCC instruments the clones' resolver for
 * ThreadSanitizer, and the resolver runs while the program is being relocated,
 * before TSan's runtime is up (a TSan build crashed at load). Those builds take
 * the default variant only. */
#if defined(__clang__) || defined(__SANITIZE_THREAD__)
#define CLONES
#else
#define CLONES __attribute__((target_clones("avx2,fma", "default")))
#endif

CLONES void vec_dot_many(const float *q, const float *vecs, size_t n, int dim, float *out)
{
	size_t d8 = (size_t)dim / 8 * 8;
	for (size_t i = 0; i < n; i++) {
		const float *v = vecs + i * (size_t)dim;
		v8f acc = {0};
		for (size_t d = 0; d < d8; d += 8) {
			v8f a, b;
			memcpy(&a, q + d, sizeof(a)); /* unaligned loads */
			memcpy(&b, v + d, sizeof(b));
			acc += a * b;
		}
		float s = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
		for (size_t d = d8; d < (size_t)dim; d++)
			s += q[d] * v[d];
		out[i] = s;
	}
}

void vec_normalize(float *v, int dim)
{
	double sum = 0;
	for (int i = 0; i < dim; i++)
		sum += (double)v[i] * v[i];
	if (sum <= 0)
		return;
	float inv = (float)(1.0 / sqrt(sum));
	for (int i = 0; i < dim; i++)
		v[i] *= inv;
}

void vec_sign_code(const float *v, const float *centre, int dim, uint64_t *code)
{
	memset(code, 0, VEC_CODE_WORDS(dim) * sizeof(*code));
	for (int d = 0; d < dim; d++)
		code[d / 64] |= (uint64_t)(v[d] > centre[d]) << (d % 64);
}

/* The loop every variant below compiles with its own instructions. */
static inline __attribute__((always_inline)) void hamming(const uint64_t *q, const uint64_t *codes,
                                                          size_t n, size_t words, uint16_t *out)
{
	for (size_t i = 0; i < n; i++) {
		const uint64_t *c = codes + i * words;
		unsigned bits = 0;
		for (size_t w = 0; w < words; w++)
			bits += (unsigned)__builtin_popcountll(q[w] ^ c[w]);
		out[i] = (uint16_t)bits;
	}
}

static void hamming_plain(const uint64_t *q, const uint64_t *codes, size_t n, size_t words,
                          uint16_t *out)
{
	hamming(q, codes, n, words, out);
}

static bool force_plain;

void vecmath_force_plain(bool plain)
{
	__atomic_store_n(&force_plain, plain, __ATOMIC_RELAXED);
}

/*
 * x86-64 before POPCNT (2008) counts bits with shifts and masks; with it,
 * one instruction a word; with AVX-512 VPOPCNTDQ (Ice Lake, Zen 4), eight
 * words at once.
 * Chosen at run time, so one binary runs on any x86-64. (Plain target
 * attributes, not target_clones: no ifunc resolver to trip ThreadSanitizer.)
 */
#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("popcnt"))) static void
hamming_popcnt(const uint64_t *q, const uint64_t *codes, size_t n, size_t words, uint16_t *out)
{
	hamming(q, codes, n, words, out);
}

/* A row's eight words at a time (the last ones masked), summed once per row. */
__attribute__((target("avx512f,avx512vpopcntdq"))) static void
hamming_avx512(const uint64_t *q, const uint64_t *codes, size_t n, size_t words, uint16_t *out)
{
	size_t full = words / 8;
	__mmask8 tail = (__mmask8)((1u << (words % 8)) - 1);
	for (size_t i = 0; i < n; i++) {
		const uint64_t *c = codes + i * words;
		__m512i acc = _mm512_setzero_si512();
		for (size_t w = 0; w < full * 8; w += 8)
			acc = _mm512_add_epi64(
			    acc, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(q + w),
			                                              _mm512_loadu_si512(c + w))));
		if (tail)
			acc = _mm512_add_epi64(acc,
			                       _mm512_popcnt_epi64(_mm512_xor_si512(
			                           _mm512_maskz_loadu_epi64(tail, q + full * 8),
			                           _mm512_maskz_loadu_epi64(tail, c + full * 8))));
		out[i] = (uint16_t)_mm512_reduce_add_epi64(acc);
	}
}
#endif

void vec_hamming_many(const uint64_t *q, const uint64_t *codes, size_t n, size_t words,
                      uint16_t *out)
{
#if defined(__x86_64__)
	if (!__atomic_load_n(&force_plain, __ATOMIC_RELAXED)) {
		if (__builtin_cpu_supports("avx512vpopcntdq")) {
			hamming_avx512(q, codes, n, words, out);
			return;
		}
		if (__builtin_cpu_supports("popcnt")) {
			hamming_popcnt(q, codes, n, words, out);
			return;
		}
	}
#endif
	hamming_plain(q, codes, n, words, out);
}
