#if defined(__x86_64__)
#include <stdint.h>
#include <string.h>
#define FA_SUFFIX avx2
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "kernels/forward_impl.h"
#pragma clang attribute pop
#endif
