// Shared vector math for the microkernels. Included (not compiled alone) inside each tier's
// translation unit, after that unit has pushed its target attributes, so the same source
// becomes AVX-512, AVX2 or baseline code.
#ifndef FA_VEC_MATH_H
#define FA_VEC_MATH_H

#include <stdint.h>
#include <string.h>

// The 16-wide types are wider than an AVX2 / SSE register, which changes how they would be
// passed to a non-inlined function; these helpers are all inlined, so the warning is moot.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float fa_v16 __attribute__((ext_vector_type(16)));
typedef int32_t fa_v16i __attribute__((ext_vector_type(16)));

static inline fa_v16 fa_load16(const float *p) { fa_v16 v; memcpy(&v, p, sizeof v); return v; }
static inline void fa_store16(float *p, fa_v16 v) { memcpy(p, &v, sizeof v); }
static inline fa_v16 fa_splat16(float x) { return (fa_v16)x; }
static inline fa_v16 fa_max16(fa_v16 a, fa_v16 b) { return __builtin_elementwise_max(a, b); }
static inline fa_v16 fa_min16(fa_v16 a, fa_v16 b) { return __builtin_elementwise_min(a, b); }
static inline float fa_hmax16(fa_v16 v) { return __builtin_reduce_max(v); }
// Pairwise halving (clang has no float __builtin_reduce_add); a fixed order, so a fixed result.
static inline float fa_hsum16(fa_v16 v) {
  typedef float fa_v8_ __attribute__((ext_vector_type(8)));
  typedef float fa_v4_ __attribute__((ext_vector_type(4)));
  fa_v8_ a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  fa_v4_ b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return (b[0] + b[2]) + (b[1] + b[3]);
}
static inline fa_v16 fa_fma16(fa_v16 a, fa_v16 b, fa_v16 c) { return __builtin_elementwise_fma(a, b, c); }

/// 2^x for x ≤ 0 (−∞ and x < −126 give 0), relative error ≈ 1e-7: x = n + f with n = round(x),
/// f ∈ [−½, ½], a degree-6 polynomial (least-squares fit of the relative error) for 2^f, and n
/// added to the exponent bits. Rounding (not flooring) keeps f small, which is what makes the
/// degree-6 fit reach float32 precision.
static inline fa_v16 fa_exp2_16(fa_v16 x) {
  fa_v16i under = x < fa_splat16(-126.0f);
  x = fa_max16(x, fa_splat16(-126.0f));
  fa_v16 xi = __builtin_elementwise_roundeven(x);
  fa_v16 f = x - xi;  // [−0.5, 0.5]
  fa_v16 p = fa_splat16(1.5353358e-4f);
  p = fa_fma16(p, f, fa_splat16(1.3398876e-3f));
  p = fa_fma16(p, f, fa_splat16(9.6184378e-3f));
  p = fa_fma16(p, f, fa_splat16(5.5503324e-2f));
  p = fa_fma16(p, f, fa_splat16(2.4022648e-1f));
  p = fa_fma16(p, f, fa_splat16(6.9314718e-1f));
  p = fa_fma16(p, f, fa_splat16(1.0f));
  fa_v16i e = __builtin_convertvector(xi, fa_v16i) << 23;
  fa_v16i bits;
  memcpy(&bits, &p, sizeof bits);
  bits = (bits + e) & ~under;
  fa_v16 r;
  memcpy(&r, &bits, sizeof r);
  return r;
}

/// tanh for the softcap, relative error ≈ 2e-7. Below |x| = 0.625 an odd polynomial
/// x + x³·r(x²) (least-squares fit); above it sign(x)·(1 − e)/(1 + e) with e = 2^(−2|x|·log2 e),
/// where 1 − e no longer cancels.
static inline fa_v16 fa_tanh16(fa_v16 x) {
  fa_v16 ax = __builtin_elementwise_abs(x);
  fa_v16 e = fa_exp2_16(ax * fa_splat16(-2.8853900817779268f));
  fa_v16 big = (fa_splat16(1.0f) - e) / (fa_splat16(1.0f) + e);
  fa_v16 z = ax * ax;
  fa_v16 q = fa_splat16(-5.7049999e-3f);
  q = fa_fma16(q, z, fa_splat16(2.0639101e-2f));
  q = fa_fma16(q, z, fa_splat16(-5.3739719e-2f));
  q = fa_fma16(q, z, fa_splat16(1.3331442e-1f));
  q = fa_fma16(q, z, fa_splat16(-3.3333281e-1f));
  fa_v16 small = fa_fma16(ax * z, q, ax);
  fa_v16i use_small = ax < fa_splat16(0.625f);
  fa_v16 t = use_small ? small : big;
  return __builtin_elementwise_copysign(t, x);
}

#endif
