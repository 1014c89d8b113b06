/* flash_attention.h: the C ABI of swift-flash-attention. (Filled in with the C ABI issue.) */
#ifndef FLASH_ATTENTION_H
#define FLASH_ATTENTION_H
#define FLASH_ATTENTION_VERSION_MAJOR 0
#endif
