#include <stdint.h>
#include <string.h>
#define FA_SUFFIX generic
#include "kernels/forward_impl.h"
