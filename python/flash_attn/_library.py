"""Loading libflashattention.so and calling its C ABI (flash_attention.h) through ctypes.

Descriptors are packed with precompiled ``struct.Struct`` formats into per-thread scratch
buffers: that is several times cheaper than filling ``ctypes.Structure`` fields one by one,
and it keeps the per-call overhead of the wrapper in the low microseconds.
"""

import ctypes
import os
import struct
import threading

__all__ = ["FlashAttentionError", "library", "library_path", "library_version"]

MAX_RANK = 8

# enum fa_status_code
SUCCESS = 0
_STATUS_NAMES = {
    0: "FA_SUCCESS",
    1: "FA_ERROR_INVALID_ARGUMENT",
    2: "FA_ERROR_UNSUPPORTED",
    3: "FA_ERROR_DEVICE_UNAVAILABLE",
    4: "FA_ERROR_BACKEND_FAILURE",
    5: "FA_ERROR_INTERNAL",
}

# enum fa_dtype_code / fa_device_code
DTYPE_FLOAT32, DTYPE_FLOAT16, DTYPE_BFLOAT16, DTYPE_INT32, DTYPE_INT64 = 0, 1, 2, 3, 4
DEVICE_CPU, DEVICE_CUDA = 0, 1


class FlashAttentionError(RuntimeError):
    """A failure reported by libflashattention (or caught before calling it).

    ``str(error)`` is the library's message, which names the offending argument and what was
    expected; ``status`` is the C status name (``"FA_ERROR_INVALID_ARGUMENT"``, ...).
    """

    def __init__(self, message, status="FA_ERROR_INVALID_ARGUMENT"):
        super().__init__(message)
        self.status = status


class FATensor(ctypes.Structure):
    """struct fa_tensor."""

    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("device_type", ctypes.c_int32),
        ("device_index", ctypes.c_int32),
        ("rank", ctypes.c_int32),
        ("shape", ctypes.c_int64 * MAX_RANK),
        ("strides", ctypes.c_int64 * MAX_RANK),
    ]


class FAOptions(ctypes.Structure):
    """struct fa_options."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("has_softmax_scale", ctypes.c_int32),
        ("softmax_scale", ctypes.c_float),
        ("causal", ctypes.c_int32),
        ("window_left", ctypes.c_int32),
        ("window_right", ctypes.c_int32),
        ("softcap", ctypes.c_float),
        ("alibi_slopes", ctypes.c_void_p),
        ("dropout_p", ctypes.c_float),
        ("seed", ctypes.c_uint64),
        ("deterministic", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
    ]


TENSOR_SIZE = ctypes.sizeof(FATensor)
OPTIONS_SIZE = ctypes.sizeof(FAOptions)

# One packing format per rank: pointer, four int32, then `rank` sizes and strides, the unused
# slots written as zero pad bytes. Native ("@") alignment reproduces the C layout.
TENSOR_FORMATS = [
    struct.Struct("@Piiii" + f"{r}q{8 * (MAX_RANK - r)}x" * 2) for r in range(MAX_RANK + 1)
]
# fa_options, field for field; the trailing padding of the C struct is left as is.
_OPTIONS_FORMAT = struct.Struct("@IifiiifPfQii")
assert all(f.size == TENSOR_SIZE for f in TENSOR_FORMATS)
assert _OPTIONS_FORMAT.size <= OPTIONS_SIZE
assert _OPTIONS_FORMAT.size == FAOptions.num_threads.offset + 4

# Slots in a thread's scratch buffer: enough descriptors for the largest call (the KV-cache
# forward: q, k_cache, v_cache, k, v, rotary_cos, rotary_sin, cache_seqlens, cache_batch_idx,
# cache_leftpad, block_table, alibi, out, lse) plus the options.
TENSOR_SLOTS = 14


class Scratch(threading.local):
    """Per-thread descriptor memory, so concurrent calls never share it."""

    def __init__(self):
        self.buffer = ctypes.create_string_buffer(TENSOR_SLOTS * TENSOR_SIZE + OPTIONS_SIZE)
        self.base = ctypes.addressof(self.buffer)
        self.options = self.base + TENSOR_SLOTS * TENSOR_SIZE
        # The options last written into this buffer (None: unknown, write them).
        self.options_key = None


scratch = Scratch()


def pack_tensor(buffer, slot, data, dtype, device_type, device_index, shape, strides):
    """Writes a descriptor into slot `slot` of `buffer`; returns nothing (address = base + slot·size)."""
    TENSOR_FORMATS[len(shape)].pack_into(
        buffer, slot * TENSOR_SIZE, data, dtype, device_type, device_index, len(shape), *shape, *strides
    )


def pack_options(buffer, has_scale, scale, causal, left, right, softcap, alibi_address, dropout_p, seed,
                 deterministic, num_threads=0):
    _OPTIONS_FORMAT.pack_into(
        buffer, TENSOR_SLOTS * TENSOR_SIZE, OPTIONS_SIZE, has_scale, scale, causal, left, right, softcap,
        alibi_address, dropout_p, seed, deterministic, num_threads,
    )


def _candidate_paths():
    override = os.environ.get("FLASH_ATTENTION_LIB")
    if override:
        # An explicit choice is the only candidate: silently loading another copy would hide
        # a wrong path.
        return [override]
    here = os.path.dirname(os.path.abspath(__file__))
    paths = [os.path.join(here, "libflashattention.so")]
    # Running from a source checkout: python/flash_attn -> repository root.
    root = os.path.dirname(os.path.dirname(here))
    for scratch_dir in (".build-python", ".build"):
        paths.append(os.path.join(root, scratch_dir, "release", "libflashattention.so"))
    return paths


def _load():
    tried = []
    for path in _candidate_paths():
        if not os.path.exists(path):
            tried.append(f"{path} (missing)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as error:
            tried.append(f"{path} ({error})")
    raise ImportError(
        "flash_attn: cannot load libflashattention.so; build it with "
        "`swift build -c release --product flashattention -Xswiftc -static-stdlib` and set "
        "FLASH_ATTENTION_LIB to it, or `pip install ./python`. Tried: " + "; ".join(tried)
    )


library, library_path = _load()

_p = ctypes.c_void_p
_i64 = ctypes.c_int64
_status = ctypes.c_int32

library.fa_version.restype = ctypes.c_int32
library.fa_version.argtypes = []
library.fa_version_string.restype = ctypes.c_char_p
library.fa_version_string.argtypes = []
library.fa_last_error.restype = ctypes.c_char_p
library.fa_last_error.argtypes = []
library.fa_status_name.restype = ctypes.c_char_p
library.fa_status_name.argtypes = [_status]
library.fa_options_init.restype = None
library.fa_options_init.argtypes = [_p]
library.fa_tensor_init.restype = _status
library.fa_tensor_init.argtypes = [_p, _p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, _p]
# Descriptor arguments are passed as plain addresses (c_void_p), the cheapest conversion.
library.fa_forward.restype = _status
library.fa_forward.argtypes = [_p] * 7
library.fa_backward.restype = _status
library.fa_backward.argtypes = [_p] * 11
library.fa_varlen_forward.restype = _status
library.fa_varlen_forward.argtypes = [_p, _p, _p, _p, _p, _i64, _i64, _p, _p, _p, _p]
library.fa_varlen_backward.restype = _status
library.fa_varlen_backward.argtypes = [_p] * 8 + [_i64, _i64] + [_p] * 5
library.fa_kvcache_forward.restype = _status
library.fa_kvcache_forward.argtypes = [_p] * 7 + [ctypes.c_int32] + [_p] * 4 + [ctypes.c_int32] + [_p] * 4
library.fa_dropout_keep_mask.restype = _status
library.fa_dropout_keep_mask.argtypes = [ctypes.c_uint64, ctypes.c_float, _i64, _i64, _i64, _i64, _p, _i64]


def library_version():
    """The loaded library's version string ("MAJOR.MINOR.PATCH")."""
    return library.fa_version_string().decode()


def raise_for(status):
    """Raises FlashAttentionError with the library's thread-local message."""
    message = library.fa_last_error().decode("utf-8", "replace")
    name = _STATUS_NAMES.get(status, f"status {status}")
    raise FlashAttentionError(message or name, name)


def _check_options_layout():
    """The packed options must read back as what fa_options_init writes: catches a header
    and a Python layout that drifted apart."""
    options = FAOptions()
    library.fa_options_init(ctypes.byref(options))
    if options.struct_size != OPTIONS_SIZE or options.window_left != -1 or options.deterministic != 1:
        raise ImportError(
            f"flash_attn: {library_path} has an fa_options layout this package does not know "
            f"(struct_size {options.struct_size}, expected {OPTIONS_SIZE})"
        )


_check_options_layout()
