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
