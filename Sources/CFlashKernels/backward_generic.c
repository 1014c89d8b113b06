#include "flash_backward.h"
#include <string.h>
// 16-wide vectors pass between static inline helpers that are all inlined: no ABI is crossed.
#pragma clang diagnostic ignored "-Wpsabi"
#define FA_SUFFIX generic
#include "kernels/backward_impl.h"
