"""flash_attn_func at the sizes where the GPU's fastest kernels take over (the Hopper TMA
forward with its tile scheduler from 2k tokens, the warp-specialised backward from 1k keys,
the split 128-key backward rows), against the float64 oracle: forward, LSE and gradients.

The small-shape suites never reach those kernels, so these cases exist to check them at many
key blocks per tile (long turn chains for the ordered dQ, many scheduler tiles per SM), with
odd lengths, Sq ≠ Sk, causal rows that see no key, and GQA. CUDA only: the float64 oracle at
4k tokens is too slow for the CPU suite, where the CPU backend is itself the oracle's subject
in the Swift tests.
"""

import pytest
import torch

from flash_attn import flash_attn_func
from helpers import check_forward_backward, make_qkv, reference_pair

# (sq, sk, causal): square, odd, Sq < Sk and Sq > Sk (causal: the first rows see no key).
SHAPES = [(2048, 2048, True), (3001, 3001, False), (1500, 4096, True), (4096, 1200, True), (4096, 4096, False)]
HEADDIMS = [64, 96, 128, 256]
DTYPES = [torch.bfloat16, torch.float16]
# The type alternates along the head dims and flips from shape to shape, so every head dim
# meets both types (n % 2 alone pinned each head dim to one type).
CASES = [(sq, sk, causal, d, DTYPES[(n // len(HEADDIMS) + n) % 2])
         for n, ((sq, sk, causal), d) in enumerate((s, d) for s in SHAPES for d in HEADDIMS)]


@pytest.mark.parametrize("sq,sk,causal,d,dtype", CASES, ids=lambda x: str(x).replace("torch.", ""))
def test_large(device, sq, sk, causal, d, dtype):
    if device != "cuda":
        pytest.skip("GPU-sized problems: the CPU suite covers the same code paths at small sizes")
    batch, heads, kv_heads = 1, 4, 2
    q, k, v = make_qkv(batch, sq, sk, heads, kv_heads, d, dtype, device)
    dout = torch.randn(batch, sq, heads, d, dtype=dtype, device=device)
    out, lse, _ = flash_attn_func(q, k, v, causal=causal, return_attn_probs=True)
    grads = torch.autograd.grad(out, (q, k, v), dout)
    oracle, naive = reference_pair(q, k, v, dout, causal=causal)
    check_forward_backward(out, lse, grads, oracle, naive, dtype)
