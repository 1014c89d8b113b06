"""FlashAttention with the reference ``flash_attn`` package's API, on swift-flash-attention.

``from flash_attn import flash_attn_func, flash_attn_with_kvcache`` (and the packed and
varlen functions) works as with the reference library. The functions call
libflashattention.so (found through the ``FLASH_ATTENTION_LIB`` environment variable, else
next to this file) through ctypes:
CPU tensors run on its multithreaded CPU backend, CUDA tensors in place on the current stream.
"""

from ._library import FlashAttentionError, library_path, library_version
from .flash_attn_interface import (
    flash_attn_func,
    flash_attn_kvpacked_func,
    flash_attn_qkvpacked_func,
    flash_attn_varlen_func,
    flash_attn_varlen_kvpacked_func,
    flash_attn_varlen_qkvpacked_func,
    flash_attn_with_kvcache,
)
from .ring_flash_attn import ring_flash_attn_func

# This package's own version (the C library reports its own through library_version()).
__version__ = "0.1.0"

__all__ = [
    "FlashAttentionError",
    "flash_attn_func",
    "flash_attn_kvpacked_func",
    "flash_attn_qkvpacked_func",
    "flash_attn_varlen_func",
    "flash_attn_varlen_kvpacked_func",
    "flash_attn_varlen_qkvpacked_func",
    "flash_attn_with_kvcache",
    "library_path",
    "library_version",
    "ring_flash_attn_func",
]
