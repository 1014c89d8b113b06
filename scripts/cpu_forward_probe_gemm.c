// Scratch probe: checks fa_gemm_tier against a double loop and times it per tier.
// Build: clang -O2 -ISources/CFlashKernels/include scripts/cpu_forward_probe_gemm.c \
//          Sources/CFlashKernels/gemm_*.c Sources/CFlashKernels/cpu_features.c -o .build-fwd/gemm_probe
#include "flash_forward.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(getenv("WALL") ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static double check(fa_tier tier, int ta, int m, int n, int k, float beta) {
  int lda = (ta ? m : k) + 3, ldb = n + 5, ldc = n + 2;
  float *A = malloc(sizeof(float) * (ta ? k : m) * lda + 64), *B = malloc(sizeof(float) * k * ldb + 64);
  float *C = malloc(sizeof(float) * m * ldc + 64);
  for (int i = 0; i < (ta ? k : m) * lda; i++) A[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  for (int i = 0; i < k * ldb; i++) B[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  for (int i = 0; i < m * ldc; i++) C[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  double *ref = malloc(sizeof(double) * m * ldc);
  for (int i = 0; i < m; i++) for (int j = 0; j < ldc; j++) {
    double s = (j < n && beta != 0) ? C[i * ldc + j] : 0;
    if (j < n) for (int p = 0; p < k; p++) s += (double)(ta ? A[p * lda + i] : A[i * lda + p]) * B[p * ldb + j];
    else s = C[i * ldc + j];
    ref[i * ldc + j] = s;
  }
  fa_gemm_tier(tier, ta, m, n, k, A, lda, B, ldb, C, ldc, beta);
  double err = 0;
  for (int i = 0; i < m * ldc; i++) { double e = fabs(C[i] - ref[i]); if (!(e <= err)) err = e; }
  free(A); free(B); free(C); free(ref);
  return err;
}

int main(void) {
  const char *names[] = {"generic", "avx2", "avx512"};
  double worst = 0;
  int sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 47, 64, 65};
  for (int t = 0; t < 3; t++) {
    if (!fa_tier_supported((fa_tier)t)) continue;
    for (int a = 0; a < 13; a++) for (int b = 0; b < 13; b++) for (int c = 0; c < 13; c += 3)
      for (int ta = 0; ta < 2; ta++) for (int be = 0; be < 2; be++) {
        double e = check((fa_tier)t, ta, sizes[a], sizes[b], sizes[c], (float)be);
        if (!(e <= worst)) worst = e;
      }
    printf("%s: max abs err %.3g\n", names[t], worst);
  }
  int shapes[][3] = {{64, 64, 128}, {128, 128, 64}, {64, 64, 64}, {128, 40, 128}};
  for (int s = 0; s < 4; s++) {
    int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
    float *A = aligned_alloc(64, sizeof(float) * 256 * 256), *B = aligned_alloc(64, sizeof(float) * 256 * 256);
    float *C = aligned_alloc(64, sizeof(float) * 256 * 256);
    for (int i = 0; i < 256 * 256; i++) { A[i] = 0.01f * (i % 7); B[i] = 0.02f * (i % 5); C[i] = 0; }
    for (int t = 0; t < 3; t++) for (int ta = 0; ta < 2; ta++) {
      if (!fa_tier_supported((fa_tier)t)) continue;
      int reps = 2000;
      double best = 1e9;
      for (int trial = 0; trial < 5; trial++) {
        double t0 = now();
        for (int r = 0; r < reps; r++) fa_gemm_tier((fa_tier)t, ta, m, n, k, A, ta ? m : k, B, n, C, n, 1.0f);
        double dt = now() - t0;
        if (dt < best) best = dt;
      }
      printf("%dx%dx%d %-7s trans_a=%d: %.1f GFLOP/s\n", m, n, k, names[t], ta, 2.0 * m * n * k * reps / best * 1e-9);
    }
    free(A); free(B); free(C);
  }
  return 0;
}
