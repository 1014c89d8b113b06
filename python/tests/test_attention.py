"""flash_attn_func against the float64 oracle over odd shapes, head dims, dtypes and options,
outputs, LSE and autograd gradients."""

import itertools

import pytest
import torch

from flash_attn import flash_attn_func, flash_attn_kvpacked_func, flash_attn_qkvpacked_func
from helpers import check_forward_backward, make_qkv, reference_pair

DTYPES = [torch.float16, torch.bfloat16, torch.float32]
SEQLENS = [(1, 1), (1, 23), (7, 7), (23, 7), (7, 113), (113, 113), (113, 23), (23, 113)]
HEADDIMS = [8, 40, 59, 80, 111, 256]

# A covering set: every (sq, sk) pair meets every head dim once, dtypes rotate.
SHAPE_CASES = [
    (sq, sk, d, DTYPES[n % 3])
    for n, ((sq, sk), d) in enumerate(itertools.product(SEQLENS, HEADDIMS))
]


def run(q, k, v, dout, **options):
    out, lse, _ = flash_attn_func(q, k, v, return_attn_probs=True, **_api(options))
    grads = torch.autograd.grad(out, (q, k, v), dout)
    return out, lse, grads


def _api(options):
    """Reference-library argument names from the oracle's."""
    names = {"scale": "softmax_scale", "window": "window_size", "alibi": "alibi_slopes"}
    return {names.get(k, k): v for k, v in options.items()}


@pytest.mark.parametrize("sq,sk,d,dtype", SHAPE_CASES, ids=lambda x: str(x).replace("torch.", ""))
def test_shapes(device, sq, sk, d, dtype):
    batch, heads = 2, 2
    q, k, v = make_qkv(batch, sq, sk, heads, heads, d, dtype, device)
    dout = torch.randn(batch, sq, heads, d, dtype=dtype, device=device)
    out, lse, grads = run(q, k, v, dout)
    oracle, naive = reference_pair(q, k, v, dout)
    check_forward_backward(out, lse, grads, oracle, naive, dtype)


OPTION_CASES = {
    "causal": dict(causal=True),
    "window_left": dict(window=(5, -1)),
    "window_right": dict(window=(-1, 3)),
    "window_both": dict(window=(4, 2)),
    "window_zero": dict(window=(0, 0)),
    "causal_window": dict(causal=True, window=(6, -1)),
    "softcap": dict(softcap=2.0),
    "scale": dict(scale=0.37),
    "alibi_heads": "alibi_heads",
    "alibi_batch_heads": "alibi_batch_heads",
    "everything": "everything",
}


def _options(name, batch, heads, device):
    case = OPTION_CASES[name]
    if not isinstance(case, str):
        return dict(case)
    if case == "alibi_heads":
        return dict(alibi=torch.rand(heads, device=device) * 0.5)
    if case == "alibi_batch_heads":
        return dict(alibi=torch.rand(batch, heads, device=device) * 0.5)
    return dict(causal=True, window=(9, -1), softcap=3.0, scale=0.2, alibi=torch.rand(heads, device=device) * 0.3)


@pytest.mark.parametrize("name", list(OPTION_CASES))
@pytest.mark.parametrize("sq,sk,d", [(23, 113, 59), (113, 23, 40), (7, 7, 80)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_options(device, name, sq, sk, d, dtype):
    batch, heads = 2, 4
    options = _options(name, batch, heads, device)
    q, k, v = make_qkv(batch, sq, sk, heads, heads, d, dtype, device)
    dout = torch.randn(batch, sq, heads, d, dtype=dtype, device=device)
    out, lse, grads = run(q, k, v, dout, **options)
    oracle, naive = reference_pair(q, k, v, dout, **options)
    check_forward_backward(out, lse, grads, oracle, naive, dtype)


@pytest.mark.parametrize("heads,kv_heads", [(6, 2), (4, 1), (3, 3)])
@pytest.mark.parametrize("causal", [False, True])
def test_gqa_mqa(device, heads, kv_heads, causal):
    dtype = torch.bfloat16
    q, k, v = make_qkv(2, 23, 41, heads, kv_heads, 64, dtype, device)
    dout = torch.randn_like(q)
    out, lse, grads = run(q, k, v, dout, causal=causal)
    oracle, naive = reference_pair(q, k, v, dout, causal=causal)
    check_forward_backward(out, lse, grads, oracle, naive, dtype)


def test_fully_masked_rows_are_zero(device):
    # Sq > Sk with causal: the first Sq - Sk query rows see no key: out 0, LSE +inf, grads 0.
    q, k, v = make_qkv(1, 9, 4, 2, 2, 16, torch.float16, device)
    out, lse, _ = flash_attn_func(q, k, v, causal=True, return_attn_probs=True)
    assert torch.all(out[:, :5] == 0)
    assert torch.all(torch.isposinf(lse[:, :, :5]))
    assert torch.isfinite(lse[:, :, 5:]).all()
    (dq,) = torch.autograd.grad(out, (q,), torch.ones_like(out))
    assert torch.all(dq[:, :5] == 0)
    assert not torch.isnan(dq).any()


def test_qkvpacked(device):
    dtype = torch.float16
    qkv = torch.randn(2, 37, 3, 4, 48, dtype=dtype, device=device, requires_grad=True)
    dout = torch.randn(2, 37, 4, 48, dtype=dtype, device=device)
    out = flash_attn_qkvpacked_func(qkv, causal=True)
    (dqkv,) = torch.autograd.grad(out, (qkv,), dout)
    q, k, v = qkv.unbind(2)
    oracle, naive = reference_pair(q, k, v, dout, causal=True)
    check_forward_backward(out, None, dqkv.unbind(2), oracle, naive, dtype)


def test_kvpacked(device):
    dtype = torch.bfloat16
    q = torch.randn(2, 19, 6, 32, dtype=dtype, device=device, requires_grad=True)
    kv = torch.randn(2, 29, 2, 3, 32, dtype=dtype, device=device, requires_grad=True)
    dout = torch.randn_like(q)
    out, lse, s_dmask = flash_attn_kvpacked_func(q, kv, window_size=(7, 3), return_attn_probs=True)
    assert s_dmask.numel() == 0  # no dropout: empty, as in the reference library
    dq, dkv = torch.autograd.grad(out, (q, kv), dout)
    k, v = kv.unbind(2)
    oracle, naive = reference_pair(q, k, v, dout, window=(7, 3))
    check_forward_backward(out, lse, (dq, *dkv.unbind(2)), oracle, naive, dtype)


def test_inference_path_matches_autograd_path(device):
    # Without requires_grad the wrapper skips autograd.Function; results must be identical.
    q, k, v = make_qkv(1, 17, 33, 2, 1, 24, torch.float16, device)
    with_grad = flash_attn_func(q, k, v, causal=True)
    plain = flash_attn_func(q.detach(), k.detach(), v.detach(), causal=True)
    assert not plain.requires_grad
    assert torch.equal(with_grad.detach(), plain)


def test_float32_precision(device):
    # Project bar for float32: norm-wise relative error < 1e-5 against float64.
    q, k, v = make_qkv(2, 50, 70, 4, 2, 72, torch.float32, device, requires_grad=False)
    out = flash_attn_func(q, k, v, causal=True, softcap=5.0)
    oracle, _ = reference_pair(q, k, v, causal=True, softcap=5.0)
    relative = (out.double() - oracle[0]).norm() / oracle[0].norm()
    assert relative.item() < 1e-5


@pytest.mark.parametrize("batch,sq,sk", [(1, 0, 5), (1, 5, 0), (0, 3, 3), (1, 0, 0)])
def test_empty_problems(device, batch, sq, sk):
    # Empty tensors may have NULL data pointers; nothing is read, rows without keys are 0 / +inf.
    q, k, v = make_qkv(batch, sq, sk, 2, 2, 8, torch.float16, device)
    out, lse, _ = flash_attn_func(q, k, v, return_attn_probs=True)
    assert out.shape == q.shape and lse.shape == (batch, 2, sq)
    assert torch.all(out == 0) and torch.all(torch.isposinf(lse))
    grads = torch.autograd.grad(out, (q, k, v), torch.ones_like(out))
    assert all(torch.all(g == 0) for g in grads)


def test_concurrent_python_threads():
    # ctypes releases the GIL during the call: several Python threads may run attention at once,
    # each with its own descriptor scratch; results must equal the serial ones.
    import threading

    problems = [make_qkv(1, 33, 47, 4, 2, 32, torch.bfloat16, "cpu", requires_grad=False) for _ in range(6)]
    expected = [flash_attn_func(*p, causal=(i % 2 == 0), softcap=float(i)) for i, p in enumerate(problems)]
    results = [None] * len(problems)

    def work(i):
        for _ in range(5):
            results[i] = flash_attn_func(*problems[i], causal=(i % 2 == 0), softcap=float(i))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        assert torch.equal(got, want)


def test_double_backward_raises(device):
    # Second derivatives are not implemented: asking for them must fail loudly, not return zeros.
    q, k, v = make_qkv(1, 5, 5, 1, 1, 8, torch.float32, device)
    out = flash_attn_func(q, k, v)
    (dq,) = torch.autograd.grad(out.sum(), (q,), create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(dq.sum(), (q,))
