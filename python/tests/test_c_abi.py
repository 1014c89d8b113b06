"""The C ABI itself, through ctypes: version, options defaults, NULL and malformed
descriptors, thread-local messages, and device routing."""

import ctypes
import threading

import pytest
import torch

from flash_attn import _library as lib

L = lib.library


def tensor(t, dtype=None, device_type=lib.DEVICE_CPU):
    """A descriptor of `t`; it keeps `t` alive (a descriptor of a freed tensor would dangle)."""
    desc = lib.FATensor()
    desc.keepalive = t
    desc.data = t.data_ptr()
    desc.dtype = lib.DTYPE_FLOAT16 if dtype is None else dtype
    desc.device_type = device_type
    desc.rank = t.dim()
    for axis in range(t.dim()):
        desc.shape[axis] = t.shape[axis]
        desc.strides[axis] = t.stride(axis)
    return desc


def forward(q, k, v, out, lse=None, options=None, stream=None):
    ref = lambda d: None if d is None else ctypes.addressof(d)
    return L.fa_forward(ref(q), ref(k), ref(v), ref(out), ref(lse), ref(options), stream)


def last_error():
    return L.fa_last_error().decode()


def test_version():
    assert L.fa_version() == 100
    assert L.fa_version_string() == b"0.1.0"
    assert L.fa_status_name(1) == b"FA_ERROR_INVALID_ARGUMENT"
    assert L.fa_status_name(99) == b"FA_UNKNOWN_STATUS"


def test_options_defaults():
    options = lib.FAOptions()
    L.fa_options_init(ctypes.byref(options))
    assert options.struct_size == ctypes.sizeof(lib.FAOptions)
    assert (options.has_softmax_scale, options.causal, options.window_left, options.window_right) == (0, 0, -1, -1)
    assert (options.softcap, options.alibi_slopes, options.dropout_p, options.deterministic) == (0.0, None, 0.0, 1)
    L.fa_options_init(None)  # tolerated


def test_tensor_init():
    desc = lib.FATensor()
    shape = (ctypes.c_int64 * 4)(2, 3, 4, 5)
    assert L.fa_tensor_init(ctypes.byref(desc), None, 0, 0, 0, 4, shape) == 0
    assert list(desc.strides)[:4] == [60, 20, 5, 1]
    assert L.fa_tensor_init(ctypes.byref(desc), None, 0, 0, 0, 9, shape) == 1
    assert "rank" in last_error()
    assert L.fa_tensor_init(None, None, 0, 0, 0, 4, shape) == 1


def test_null_and_malformed_descriptors():
    x = torch.randn(1, 4, 1, 8, dtype=torch.float16)
    out = torch.empty_like(x)
    d, o = tensor(x), tensor(out)
    assert forward(None, d, d, o) == 1 and "'q'" in last_error()
    assert forward(d, d, d, None) == 1 and "'out'" in last_error()
    bad = tensor(x)
    bad.rank = 9
    assert forward(d, bad, d, o) == 1 and "'k'" in last_error() and "rank" in last_error()
    bad = tensor(x)
    bad.rank = -1
    assert forward(d, d, bad, o) == 1 and "'v'" in last_error()
    bad = tensor(x)
    bad.data = None
    assert forward(bad, d, d, o) == 1 and "non-NULL" in last_error()
    bad = tensor(x)
    bad.data = x.data_ptr() + 1
    assert forward(bad, d, d, o) == 1 and "aligned" in last_error()
    bad = tensor(x)
    bad.strides[1] = -4
    assert forward(bad, d, d, o) == 1 and "non-negative strides" in last_error()
    bad = tensor(x)
    bad.shape[0] = 1 << 62
    bad.strides[0] = 1 << 62
    assert forward(bad, d, d, o) == 1 and "64 bits" in last_error()
    bad = tensor(x, dtype=7)
    assert forward(bad, d, d, o) == 1 and "dtype" in last_error()
    bad = tensor(x, device_type=5)
    assert forward(bad, d, d, o) == 1 and "device_type" in last_error()


def test_uninitialised_options_rejected():
    x = torch.randn(1, 4, 1, 8, dtype=torch.float16)
    d, o = tensor(x), tensor(torch.empty_like(x))
    options = lib.FAOptions()  # zeroed, never passed through fa_options_init
    assert forward(d, d, d, o, options=options) == 1
    assert "fa_options_init" in last_error()


def test_success_clears_message():
    x = torch.randn(1, 4, 1, 8, dtype=torch.float16)
    d, o = tensor(x), tensor(torch.empty_like(x))
    assert forward(None, d, d, o) == 1 and last_error()
    assert forward(d, d, d, o) == 0, last_error()
    assert last_error() == ""


def test_messages_are_thread_local():
    x = torch.randn(1, 4, 1, 8, dtype=torch.float16)
    d, o = tensor(x), tensor(torch.empty_like(x))
    assert forward(None, d, d, o) == 1
    seen = {}

    def other():
        seen["before"] = last_error()
        assert forward(d, None, d, o) == 1
        seen["after"] = last_error()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen["before"] == ""
    assert "'k'" in seen["after"]
    assert "'q'" in last_error()  # this thread's message is untouched


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_cuda_tensors_without_cuda_report_unavailable():
    # A CUDA descriptor must be routed to the CUDA backend, never read as host memory; here
    # that backend cannot run, and the status says so.
    x = torch.randn(1, 4, 1, 8, dtype=torch.float16)
    cuda = lambda t: tensor(t, device_type=lib.DEVICE_CUDA)
    status = forward(cuda(x), cuda(x), cuda(x), cuda(torch.empty_like(x)))
    assert status in (2, 3), (status, last_error())  # unsupported / device unavailable
    assert last_error()


def test_mixed_devices_rejected():
    x = torch.randn(1, 4, 1, 8, dtype=torch.float16)
    d = tensor(x)
    cuda = tensor(x, device_type=lib.DEVICE_CUDA)
    assert forward(d, cuda, d, tensor(torch.empty_like(x))) == 1
    assert "device" in last_error()


def test_dropout_keep_mask_arguments():
    keep = (ctypes.c_uint8 * 12)()
    assert L.fa_dropout_keep_mask(1, 0.5, 0, 0, 3, 4, keep, 4) == 0
    assert set(keep) <= {0, 1}
    assert L.fa_dropout_keep_mask(1, 1.5, 0, 0, 3, 4, keep, 4) == 1
    assert L.fa_dropout_keep_mask(1, 0.5, 0, 0, 3, 4, None, 4) == 1
    assert L.fa_dropout_keep_mask(1, 0.5, 0, 0, 3, 4, keep, 2) == 1
    assert L.fa_dropout_keep_mask(1, 0.5, 0, 0, 3, 4, keep, 1 << 62) == 1 and "row_stride" in last_error()
