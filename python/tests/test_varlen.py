"""The varlen functions: each packed sequence must match dense attention on that sequence."""

import pytest
import torch

from flash_attn import flash_attn_varlen_func, flash_attn_varlen_kvpacked_func, flash_attn_varlen_qkvpacked_func
from helpers import check_forward_backward, reference_pair


def offsets(lengths, device):
    cu = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    cu[1:] = torch.tensor(lengths, dtype=torch.int32).cumsum(0)
    return cu.to(device)


def per_sequence_reference(q, k, v, dout, cu_q, cu_k, **options):
    """Dense oracle and naive results per sequence, packed back like the library's."""
    cu_q, cu_k = cu_q.tolist(), cu_k.tolist()
    parts = {"oracle": [], "naive": []}
    for b in range(len(cu_q) - 1):
        sl_q, sl_k = slice(cu_q[b], cu_q[b + 1]), slice(cu_k[b], cu_k[b + 1])
        seq_options = dict(options)
        if seq_options.get("alibi") is not None and seq_options["alibi"].dim() == 2:
            seq_options["alibi"] = seq_options["alibi"][b : b + 1]
        oracle, naive = reference_pair(q[sl_q][None], k[sl_k][None], v[sl_k][None], dout[sl_q][None], **seq_options)
        parts["oracle"].append(oracle)
        parts["naive"].append(naive)

    def pack(results):
        out = torch.cat([r[0][0] for r in results])
        lse = torch.cat([r[1][0] for r in results], dim=1)
        grads = tuple(torch.cat([r[2][i][0] for r in results]) for i in range(3))
        return out, lse, grads

    return pack(parts["oracle"]), pack(parts["naive"])


CASES = {
    "plain": ([5, 17, 1], [9, 17, 30], {}),
    "causal_empty_seq": ([7, 0, 23, 4], [7, 3, 11, 19], dict(causal=True)),
    "window_softcap": ([13, 40], [29, 8], dict(window=(6, 2), softcap=4.0)),
    "alibi_batch": ([11, 3, 20], [11, 30, 2], "alibi_batch"),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_varlen(device, name, dtype):
    lengths_q, lengths_k, options = CASES[name]
    heads, kv_heads, dim = 4, 2, 56
    if options == "alibi_batch":
        options = dict(alibi=torch.rand(len(lengths_q), heads, device=device) * 0.4)
    cu_q, cu_k = offsets(lengths_q, device), offsets(lengths_k, device)
    q = torch.randn(sum(lengths_q), heads, dim, dtype=dtype, device=device, requires_grad=True)
    k = torch.randn(sum(lengths_k), kv_heads, dim, dtype=dtype, device=device, requires_grad=True)
    v = torch.randn(sum(lengths_k), kv_heads, dim, dtype=dtype, device=device, requires_grad=True)
    dout = torch.randn_like(q)
    api = {{"window": "window_size", "alibi": "alibi_slopes"}.get(k, k): v for k, v in options.items()}
    out, lse, _ = flash_attn_varlen_func(q, k, v, cu_q, cu_k, max(lengths_q), max(lengths_k),
                                         return_attn_probs=True, **api)
    assert lse.shape == (heads, sum(lengths_q))
    grads = torch.autograd.grad(out, (q, k, v), dout)
    oracle, naive = per_sequence_reference(q, k, v, dout, cu_q, cu_k, **options)
    check_forward_backward(out, lse, grads, oracle, naive, dtype)


def test_varlen_qkvpacked(device):
    dtype = torch.float16
    lengths = [8, 31, 2]
    cu = offsets(lengths, device)
    qkv = torch.randn(sum(lengths), 3, 2, 40, dtype=dtype, device=device, requires_grad=True)
    dout = torch.randn(sum(lengths), 2, 40, dtype=dtype, device=device)
    out = flash_attn_varlen_qkvpacked_func(qkv, cu, max(lengths), causal=True)
    (dqkv,) = torch.autograd.grad(out, (qkv,), dout)
    q, k, v = qkv.unbind(1)
    oracle, naive = per_sequence_reference(q, k, v, dout, cu, cu, causal=True)
    check_forward_backward(out, None, dqkv.unbind(1), oracle, naive, dtype)


def test_varlen_kvpacked(device):
    dtype = torch.bfloat16
    lengths_q, lengths_k = [3, 12], [20, 5]
    cu_q, cu_k = offsets(lengths_q, device), offsets(lengths_k, device)
    q = torch.randn(sum(lengths_q), 4, 32, dtype=dtype, device=device, requires_grad=True)
    kv = torch.randn(sum(lengths_k), 2, 1, 32, dtype=dtype, device=device, requires_grad=True)
    dout = torch.randn_like(q)
    out = flash_attn_varlen_kvpacked_func(q, kv, cu_q, cu_k, max(lengths_q), max(lengths_k))
    dq, dkv = torch.autograd.grad(out, (q, kv), dout)
    k, v = kv.unbind(1)
    oracle, naive = per_sequence_reference(q, k, v, dout, cu_q, cu_k)
    check_forward_backward(out, None, (dq, *dkv.unbind(1)), oracle, naive, dtype)


def test_varlen_matches_dense(device):
    # Equal-length varlen is the dense problem: bitwise the same output on the CPU backend.
    q = torch.randn(3, 21, 2, 24, dtype=torch.float16, device=device)
    k = torch.randn(3, 21, 2, 24, dtype=torch.float16, device=device)
    v = torch.randn(3, 21, 2, 24, dtype=torch.float16, device=device)
    from flash_attn import flash_attn_func

    dense = flash_attn_func(q, k, v, causal=True)
    cu = offsets([21, 21, 21], device)
    packed = flash_attn_varlen_func(q.flatten(0, 1), k.flatten(0, 1), v.flatten(0, 1), cu, cu, 21, 21, causal=True)
    torch.testing.assert_close(packed.view_as(dense), dense, rtol=0, atol=1e-3 if device == "cuda" else 0)
