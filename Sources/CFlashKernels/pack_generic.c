#include "flash_pack.h"
#include <string.h>
#define FA_SUFFIX generic
#include "kernels/pack_impl.h"
