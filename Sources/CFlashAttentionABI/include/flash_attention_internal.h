/* Internal to libflashattention: helpers the Swift implementation calls. Not part of the ABI
 * (hidden visibility); C callers include flash_attention.h only. */
#ifndef FLASH_ATTENTION_INTERNAL_H
#define FLASH_ATTENTION_INTERNAL_H

#include "flash_attention.h"

#define FA_INTERNAL __attribute__((visibility("hidden")))

/** Copies `message` (UTF-8, NUL-terminated; NULL clears) into this thread's error buffer,
 *  truncated on a character boundary if it is too long. */
FA_INTERNAL void fa_internal_set_error(const char *message);

/** Clears this thread's error message (every entry point starts with this). */
FA_INTERNAL void fa_internal_clear_error(void);

#endif
