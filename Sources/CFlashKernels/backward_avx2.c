#if defined(__x86_64__)
#include "flash_backward.h"
#include <string.h>
// 16-wide vectors pass between static inline helpers that are all inlined: no ABI is crossed.
#pragma clang diagnostic ignored "-Wpsabi"
#define FA_SUFFIX avx2
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "kernels/backward_impl.h"
#pragma clang attribute pop
#endif
