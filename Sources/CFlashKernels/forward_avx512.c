#if defined(__x86_64__)
#include <stdint.h>
#include <string.h>
#define FA_SUFFIX avx512
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), apply_to = function)
#include "kernels/forward_impl.h"
#pragma clang attribute pop
#endif
