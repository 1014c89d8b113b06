"""Shared setup: the package under test comes from this source tree (python/), the library
from FLASH_ATTENTION_LIB (scripts/test.sh exports the freshly built one)."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _devices():
    # FLASH_ATTENTION_TEST_DEVICES=cuda runs only the GPU half (e.g. on the H100).
    wanted = os.environ.get("FLASH_ATTENTION_TEST_DEVICES")
    available = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if wanted:
        return [d for d in wanted.split(",") if d in available]
    return available


DEVICES = _devices()


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On CUDA tensors, a feature the CUDA backend does not implement yet (FA_ERROR_UNSUPPORTED:
    e.g. its backward pass or float32 inputs before their kernels land) is reported as a skip
    naming the feature, not a failure. CPU runs never get this treatment."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or report.when != "call":
        return
    params = getattr(item, "callspec", None)
    if params is None or params.params.get("device") != "cuda":
        return
    from flash_attn import FlashAttentionError

    error = call.excinfo.value
    if isinstance(error, FlashAttentionError) and error.status == "FA_ERROR_UNSUPPORTED":
        report.outcome = "skipped"
        report.longrepr = (str(item.fspath), item.location[1] or 0, f"CUDA backend: {error}")
