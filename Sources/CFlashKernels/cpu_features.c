#include "flash_cpu_features.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long fa_xgetbv(void) {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}

fa_cpu_features fa_detect_cpu_features(void) {
  fa_cpu_features f;
  memset(&f, 0, sizeof f);
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  if (!osxsave) return f;
  unsigned long long xcr0 = fa_xgetbv();
  int ymm_os = (xcr0 & 0x6) == 0x6, zmm_os = (xcr0 & 0xE6) == 0xE6;
  int amx_os = (xcr0 & 0x60000) == 0x60000;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  int avx2 = (b >> 5) & 1;
  int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
  f.avx2_fma = ymm_os && avx2 && fma && f16c;
  f.avx512 = f.avx2_fma && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_fp16 = f.avx512 && ((d >> 23) & 1);
  f.amx_bf16 = amx_os && ((d >> 22) & 1);
  f.amx_tile = amx_os && ((d >> 24) & 1);
  unsigned int a1 = 0, b1, c1, d1;
  if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512_bf16 = f.avx512 && ((a1 >> 5) & 1);
  return f;
}
#else
fa_cpu_features fa_detect_cpu_features(void) {
  fa_cpu_features f;
  memset(&f, 0, sizeof f);
  return f;
}
#endif

fa_tier fa_active_tier(void) {
  static int cached = -1;
  if (cached >= 0) return (fa_tier)cached;
  fa_cpu_features f = fa_detect_cpu_features();
  fa_tier best = f.avx512 ? FA_TIER_AVX512 : (f.avx2_fma ? FA_TIER_AVX2 : FA_TIER_GENERIC);
  const char *limit = getenv("FLASH_ATTENTION_CPU_TIER");
  if (limit) {
    fa_tier cap = FA_TIER_AVX512;
    if (strcmp(limit, "generic") == 0) cap = FA_TIER_GENERIC;
    else if (strcmp(limit, "avx2") == 0) cap = FA_TIER_AVX2;
    if (cap < best) best = cap;
  }
  cached = (int)best;  // benign race: every thread computes the same value
  return best;
}
