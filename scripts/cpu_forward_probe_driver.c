// Scratch driver for the CPU forward through the C ABI: times fa_forward on random inputs and
// reports GFLOP/s by wall clock and by process CPU time (robust when other jobs share the
// cores), or runs once for a peak-RSS check under /usr/bin/time -v.
//
// Build: clang -O2 -ISources/CFlashAttentionABI/include scripts/cpu_forward_probe_driver.c \
//          -L<dir of libflashattention.so> -lflashattention -Wl,-rpath,<dir> -o .build-fwd/fwd_driver
// Run:   fwd_driver N D H causal dtype(f32|bf16|f16) threads reps [Sq] [Hk]
#include "flash_attention.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id) { struct timespec t; clock_gettime(id, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
  if (argc < 8) { fprintf(stderr, "usage: N D H causal dtype threads reps [Sq] [Hk]\n"); return 2; }
  long n = atol(argv[1]), d = atol(argv[2]), h = atol(argv[3]);
  int causal = atoi(argv[4]), threads = atoi(argv[6]), reps = atoi(argv[7]);
  long sq = argc > 8 ? atol(argv[8]) : n, hk = argc > 9 ? atol(argv[9]) : h;
  int dtype = !strcmp(argv[5], "bf16") ? FA_DTYPE_BFLOAT16 : !strcmp(argv[5], "f16") ? FA_DTYPE_FLOAT16 : FA_DTYPE_FLOAT32;
  size_t es = dtype == FA_DTYPE_FLOAT32 ? 4 : 2;
  size_t nq = (size_t)sq * h * d, nk = (size_t)n * hk * d;
  void *q = malloc(nq * es), *k = malloc(nk * es), *v = malloc(nk * es), *o = malloc(nq * es);
  float *lse = malloc(sizeof(float) * h * sq);
  unsigned s = 1;
  for (int t = 0; t < 3; t++) {
    void *p = t == 0 ? q : t == 1 ? k : v;
    size_t cnt = t == 0 ? nq : nk;
    for (size_t i = 0; i < cnt; i++) {
      s = s * 1664525u + 1013904223u;
      float x = ((s >> 8) / 16777216.0f - 0.5f) * 3.0f;
      if (es == 4) ((float *)p)[i] = x;
      else if (dtype == FA_DTYPE_BFLOAT16) { unsigned u; memcpy(&u, &x, 4); ((unsigned short *)p)[i] = (unsigned short)(u >> 16); }
      else { _Float16 y = (_Float16)x; memcpy((unsigned short *)p + i, &y, 2); }
    }
  }
  int64_t qs[4] = {1, sq, h, d}, ks[4] = {1, n, hk, d}, ls[3] = {1, h, sq};
  fa_tensor tq, tk, tv, to, tl;
  fa_tensor_init(&tq, q, dtype, FA_DEVICE_CPU, 0, 4, qs);
  fa_tensor_init(&tk, k, dtype, FA_DEVICE_CPU, 0, 4, ks);
  fa_tensor_init(&tv, v, dtype, FA_DEVICE_CPU, 0, 4, ks);
  fa_tensor_init(&to, o, dtype, FA_DEVICE_CPU, 0, 4, qs);
  fa_tensor_init(&tl, lse, FA_DTYPE_FLOAT32, FA_DEVICE_CPU, 0, 3, ls);
  fa_options opt;
  fa_options_init(&opt);
  opt.causal = causal;
  opt.num_threads = threads;
  double flops = 4.0 * h * sq * n * d * (causal ? 0.5 : 1.0);
  double best_wall = 1e30, best_cpu = 1e30;
  for (int r = 0; r < reps; r++) {
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    fa_status st = fa_forward(&tq, &tk, &tv, &to, &tl, &opt, NULL);
    double w = clock_s(CLOCK_MONOTONIC) - w0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (st != FA_SUCCESS) { fprintf(stderr, "fa_forward: %s\n", fa_last_error()); return 1; }
    if (w < best_wall) best_wall = w;
    if (c < best_cpu) best_cpu = c;
  }
  printf("N=%ld Sq=%ld D=%ld H=%ld Hk=%ld causal=%d %s threads=%d: wall %.1f GF/s, per-thread-cpu %.1f GF/s (%.3f s)\n",
         n, sq, d, h, hk, causal, argv[5], threads, flops / best_wall * 1e-9, flops / (best_cpu / threads) * 1e-9, best_wall);
  return 0;
}
