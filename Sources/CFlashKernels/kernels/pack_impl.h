// Tile packing, compiled once per tier (see pack_avx512.c, pack_generic.c). FA_SUFFIX names the tier.
#define FA_CAT_(a, b) a##_##b
#define FA_CAT(a, b) FA_CAT_(a, b)
#define FA_FN(name) FA_CAT(name, FA_SUFFIX)

static inline float FA_FN(fa_f16_to_f32)(uint16_t h) { _Float16 x; memcpy(&x, &h, 2); return (float)x; }
static inline uint16_t FA_FN(fa_f32_to_f16)(float f) { _Float16 x = (_Float16)f; uint16_t h; memcpy(&h, &x, 2); return h; }
static inline float FA_FN(fa_bf16_to_f32)(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static inline uint16_t FA_FN(fa_f32_to_bf16)(float f) {
  uint32_t u; memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float FA_FN(fa_load)(const void *src, fa_dtype type, ptrdiff_t i) {
  switch (type) {
  case FA_F32: return ((const float *)src)[i];
  case FA_F16: return FA_FN(fa_f16_to_f32)(((const uint16_t *)src)[i]);
  default: return FA_FN(fa_bf16_to_f32)(((const uint16_t *)src)[i]);
  }
}

void FA_FN(fa_pack_rows_f32)(const void *src, fa_dtype type, ptrdiff_t rs, ptrdiff_t cs, int rows, int cols, float *dst, int ld) {
  for (int r = 0; r < rows; r++) {
    float *out = dst + (ptrdiff_t)r * ld;
    ptrdiff_t base = r * rs;
    if (cs == 1) {
      switch (type) {
      case FA_F32: memcpy(out, (const float *)src + base, (size_t)cols * 4); break;
      case FA_F16: { const uint16_t *p = (const uint16_t *)src + base; for (int c = 0; c < cols; c++) out[c] = FA_FN(fa_f16_to_f32)(p[c]); } break;
      default: { const uint16_t *p = (const uint16_t *)src + base; for (int c = 0; c < cols; c++) out[c] = FA_FN(fa_bf16_to_f32)(p[c]); } break;
      }
    } else {
      for (int c = 0; c < cols; c++) out[c] = FA_FN(fa_load)(src, type, base + c * cs);
    }
    for (int c = cols; c < ld; c++) out[c] = 0;
  }
}

void FA_FN(fa_pack_rows_transposed_f32)(const void *src, fa_dtype type, ptrdiff_t rs, ptrdiff_t cs, int rows, int cols, float *dst, int ld) {
  for (int r = 0; r < rows; r++) {
    ptrdiff_t base = r * rs;
    for (int c = 0; c < cols; c++) dst[(ptrdiff_t)c * ld + r] = FA_FN(fa_load)(src, type, base + c * cs);
  }
  for (int c = 0; c < cols; c++)
    for (int r = rows; r < ld; r++) dst[(ptrdiff_t)c * ld + r] = 0;
}

void FA_FN(fa_store_rows_f32)(const float *src, int ld, void *dst, fa_dtype type, ptrdiff_t rs, ptrdiff_t cs, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    const float *in = src + (ptrdiff_t)r * ld;
    ptrdiff_t base = r * rs;
    switch (type) {
    case FA_F32:
      if (cs == 1) memcpy((float *)dst + base, in, (size_t)cols * 4);
      else for (int c = 0; c < cols; c++) ((float *)dst)[base + c * cs] = in[c];
      break;
    case FA_F16: for (int c = 0; c < cols; c++) ((uint16_t *)dst)[base + c * cs] = FA_FN(fa_f32_to_f16)(in[c]); break;
    default: for (int c = 0; c < cols; c++) ((uint16_t *)dst)[base + c * cs] = FA_FN(fa_f32_to_bf16)(in[c]); break;
    }
  }
}
