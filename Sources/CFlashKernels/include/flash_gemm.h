#ifndef FLASH_GEMM_H
#define FLASH_GEMM_H

#ifdef __cplusplus
extern "C" {
#endif

/// The one small-GEMM primitive both passes are built from, on dense float32 tiles:
///
///     C[m×n] = beta·C + op(A)·B
///
/// with op(A) = A (row-major m×k, leading dimension lda) when trans_a == 0, or Aᵀ where A is
/// row-major k×m when trans_a != 0. B is row-major k×n (leading dimension ldb), contiguous
/// along n, so the inner loop broadcasts an element of A and runs FMAs along rows of B.
/// beta is 0 (overwrite; C need not be initialised) or 1 (accumulate).
/// Q·Kᵀ is computed as fa_gemm(0, …, Q, …, Kᵀ packed, …): pack K transposed.
void fa_gemm(int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
             float *C, int ldc, float beta);

#ifdef __cplusplus
}
#endif
#endif
