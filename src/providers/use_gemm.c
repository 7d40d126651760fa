/*
 * use_gemm.c - the encoder's products with its weights, y = x W + b (added
 * to y, or through relu, as the layer needs): an AVX-512 kernel where the
 * CPU has it, OpenBLAS's cblas_sgemm elsewhere.
 *
 * Why a kernel of our own: Debian 12's OpenBLAS (0.3.21) predates AMD Zen 5
 * and runs its AVX2 ("Haswell") code there, half the core's width. This
 * kernel measured about 1.7 times OpenBLAS's speed on the encoder's shapes
 * on Zen 5 and on par with OpenBLAS's own AVX-512 code (bench/README.md).
 *
 * It computes a block of 12 rows by 32 columns of y in 24 registers: for
 * each k, two loads of w's row k and 12 broadcasts of x feed 24 fused
 * multiply-adds; the bias, the residual sum or relu are applied as the block
 * is stored, so no extra pass over y is needed. The weights stay unpacked (the model is mapped
 * read-only, shared by every process); a 32-column strip of them, at most 192 KiB, stays in the
 * core's L2 cache while every row block of x passes it.
 */
#include "providers/use.h"

#include <cblas.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MR 12 /* rows of a block */
#define NR 32 /* columns of a block: two registers of 16 floats */

/*
 * y[0..MR)[0..NR) = (op == USE_ADD ? y : 0) + x[0..MR)[0..k) w[0..k)[0..NR)
 * + b[0..NR), through relu for USE_RELU, storing only the first rows rows
 * of y (x has MR readable rows). Fully unrolled over the block, so the 24
 * sums live in registers.
 */
__attribute__((target("avx512f"))) static void block(const float *x, int ldx, const float *w,
                                                     int ldw, int k, const float *b, enum use_op op,
                                                     float *y, int ldy, int rows)
{
	__m512 c[MR][2];
	for (int r = 0; r < MR; r++)
		c[r][0] = c[r][1] = _mm512_setzero_ps();
	for (int p = 0; p < k; p++) {
		__m512 b0 = _mm512_loadu_ps(w + (size_t)p * ldw);
		__m512 b1 = _mm512_loadu_ps(w + (size_t)p * ldw + 16);
#pragma GCC unroll 12
		for (int r = 0; r < MR; r++) {
			__m512 a = _mm512_set1_ps(x[(size_t)r * ldx + p]);
			c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
			c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
		}
	}
	__m512 bias0 = _mm512_loadu_ps(b), bias1 = _mm512_loadu_ps(b + 16);
	__m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 12
	for (int r = 0; r < MR; r++)
		if (r < rows) {
			float *out = y + (size_t)r * ldy;
			__m512 v0 = _mm512_add_ps(c[r][0], bias0),
			       v1 = _mm512_add_ps(c[r][1], bias1);
			if (op == USE_ADD) {
				v0 = _mm512_add_ps(v0, _mm512_loadu_ps(out));
				v1 = _mm512_add_ps(v1, _mm512_loadu_ps(out + 16));
			} else if (op == USE_RELU) {
				v0 = _mm512_max_ps(v0, zero);
				v1 = _mm512_max_ps(v1, zero);
			}
			_mm512_storeu_ps(out, v0);
			_mm512_storeu_ps(out + 16, v1);
		}
}

__attribute__((target("avx512f"))) static void linear_avx512(int m, int n, int k, const float *x,
                                                             const float *w, const float *b,
                                                             enum use_op op, float *y)
{
	float *tail = NULL; /* the last m % MR rows of x, padded to MR with zeros */
	int full = m - m % MR;
	if (full < m) {
		tail = xcalloc((size_t)MR * (size_t)k, sizeof(float));
		memcpy(tail, x + (size_t)full * k, (size_t)(m - full) * k * sizeof(float));
	}
	for (int j = 0; j < n; j += NR) {
		for (int i = 0; i < full; i += MR)
			block(x + (size_t)i * k, k, w + j, n, k, b + j, op, y + (size_t)i * n + j,
			      n, MR);
		if (tail)
			block(tail, k, w + j, n, k, b + j, op, y + (size_t)full * n + j, n,
			      m - full);
	}
	free(tail);
}

void use_linear(int m, int n, int k, const float *x, const float *w, const float *b, enum use_op op,
                float *y)
{
	if (__builtin_cpu_supports("avx512f") && n % NR == 0) {
		linear_avx512(m, n, k, x, w, b, op, y);
		return;
	}
	for (int r = 0; r < m; r++) {
		float *row = y + (size_t)r * n;
		for (int j = 0; j < n; j++)
			row[j] = (op == USE_ADD ? row[j] : 0) + b[j];
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, x, k, w, n, 1.0f, y,
	            n);
	if (op == USE_RELU)
		for (size_t i = 0; i < (size_t)m * n; i++)
			y[i] = y[i] > 0 ? y[i] : 0;
}
