"""flash_attn_with_kvcache against a float64 reference written here: contiguous and paged caches
(page sizes 1, 3, 16, 256), per-row cache lengths, rotary in both layouts, cache_batch_idx,
cache_leftpad, GQA, masks, softcap and ALiBi; the caches after the call (V exact, rotated K
within 1e-3, nothing else touched); bad arguments."""

import math

import pytest
import torch

from flash_attn import FlashAttentionError, flash_attn_with_kvcache
from flash_attn.flash_attn_interface import flash_attn_with_kvcache as from_interface
from reference import UNIT_ROUNDOFF, assert_within_budget, attention_reference
from helpers import check_lse


# ---------------------------------------------------------------------------------------------
# The reference: append (rotated) k/v into a copy of the cache, rotate q, attend per row.


def rotate(x, cos, sin, positions, interleaved):
    """x (S, H, D) float64; rows of cos/sin (S_ro, rotary_dim / 2) at `positions` (S,)."""
    half = cos.shape[1]
    c = cos.double()[positions].unsqueeze(1)  # (S, 1, half)
    s = sin.double()[positions].unsqueeze(1)
    x = x.clone()
    if interleaved:
        x0, x1 = x[..., 0 : 2 * half : 2].clone(), x[..., 1 : 2 * half : 2].clone()
        x[..., 0 : 2 * half : 2] = x0 * c - x1 * s
        x[..., 1 : 2 * half : 2] = x0 * s + x1 * c
    else:
        x0, x1 = x[..., :half].clone(), x[..., half : 2 * half].clone()
        x[..., :half] = x0 * c - x1 * s
        x[..., half : 2 * half] = x0 * s + x1 * c
    return x


def slot(problem, b, j):
    """(cache row or page, row within it) of absolute key j of batch row b."""
    table = problem["block_table"]
    if table is not None:
        page = problem["k_cache"].shape[1]
        return int(table[b, j // page]), j % page
    index = problem["cache_batch_idx"]
    return (b if index is None else int(index[b])), j


def kvcache_reference(problem, compute_dtype, round_rotation=None):
    """(out, lse, k_cache, v_cache): out/lse in compute_dtype, caches in float64 as they should
    be after the call. With round_rotation (the default for compute_dtype other than float64),
    rotated values are rounded to the storage type first, as the library stores them."""
    q, k, v = problem["q"], problem["k"], problem["v"]
    dtype = q.dtype
    lengths = problem["cache_seqlens"].tolist()
    pads = problem["cache_leftpad"].tolist() if problem["cache_leftpad"] is not None else [0] * q.shape[0]
    k_cache, v_cache = problem["k_cache"].double().clone(), problem["v_cache"].double().clone()
    opts = problem["options"]
    advance = opts.get("causal", False) or tuple(opts.get("window_size", (-1, -1))) != (-1, -1)
    cos, sin = problem["rotary_cos"], problem["rotary_sin"]
    interleaved = problem["rotary_interleaved"]
    if round_rotation is None:
        round_rotation = compute_dtype != torch.float64
    store = (lambda x: x.to(dtype).double()) if round_rotation else (lambda x: x)
    batch, sq = q.shape[0], q.shape[1]
    s_new = 0 if k is None else k.shape[1]
    outs, lses = [], []
    for b in range(batch):
        length = lengths[b]
        if k is not None:
            kb = k[b].double()
            if cos is not None:
                kb = store(rotate(kb, cos, sin, torch.arange(length, length + s_new), interleaved))
            for i in range(s_new):
                block, row = slot(problem, b, length + i)
                k_cache[block, row] = kb[i]
                v_cache[block, row] = v[b, i].double()
        qb = q[b].double()
        if cos is not None:
            positions = torch.arange(length, length + sq) if advance else torch.full((sq,), length)
            qb = store(rotate(qb, cos, sin, positions, interleaved))
        keys = range(pads[b], length + s_new)
        kk = torch.stack([k_cache[slot(problem, b, j)] for j in keys]) if keys else k_cache.new_zeros(0, *k_cache.shape[2:])
        vv = torch.stack([v_cache[slot(problem, b, j)] for j in keys]) if keys else v_cache.new_zeros(0, *v_cache.shape[2:])
        alibi = opts.get("alibi_slopes")
        if alibi is not None and alibi.dim() == 2:
            alibi = alibi[b]
        out, lse = attention_reference(
            qb.unsqueeze(0), kk.unsqueeze(0), vv.unsqueeze(0), scale=opts.get("softmax_scale"),
            causal=opts.get("causal", False), window=opts.get("window_size", (-1, -1)), softcap=opts.get("softcap", 0.0),
            alibi=alibi, compute_dtype=compute_dtype)
        outs.append(out[0])
        lses.append(lse[0])
    return torch.stack(outs), torch.stack(lses), k_cache, v_cache


# ---------------------------------------------------------------------------------------------
# Problems


def make_problem(device, dtype=torch.float16, *, batch=3, sq=1, s_new=1, heads=4, kv_heads=2, dim=32, capacity=40,
                 page_size=None, rotary=None, rotary_dim=None, batch_idx=False, leftpad=False, lengths=None,
                 options=None, generator_seed=0):
    gen = torch.Generator().manual_seed(generator_seed)
    randn = lambda *shape: torch.randn(*shape, generator=gen).to(dtype)
    q = randn(batch, sq, heads, dim)
    k = randn(batch, s_new, kv_heads, dim) if s_new > 0 else None
    v = randn(batch, s_new, kv_heads, dim) if s_new > 0 else None
    block_table, cache_batch_idx = None, None
    if page_size is None:
        rows = batch + 2 if batch_idx else batch
        k_cache, v_cache = randn(rows, capacity, kv_heads, dim), randn(rows, capacity, kv_heads, dim)
        if batch_idx:
            cache_batch_idx = torch.randperm(rows, generator=gen)[:batch].to(torch.int32)
    else:
        max_blocks = math.ceil(capacity / page_size)
        capacity = max_blocks * page_size
        pages = batch * max_blocks + 3  # spare pages nobody uses
        k_cache, v_cache = randn(pages, page_size, kv_heads, dim), randn(pages, page_size, kv_heads, dim)
        block_table = torch.randperm(pages, generator=gen)[: batch * max_blocks].view(batch, max_blocks).to(torch.int32)
    if lengths is None:
        lengths = [int(x) for x in torch.randint(0, capacity - s_new + 1, (batch,), generator=gen)]
    cache_seqlens = torch.tensor(lengths, dtype=torch.int32)
    cache_leftpad = None
    if leftpad:
        cache_leftpad = torch.tensor([int(torch.randint(0, n + 1, (1,), generator=gen)) for n in lengths], dtype=torch.int32)
    rotary_cos = rotary_sin = None
    if rotary is not None:
        rotary_dim = rotary_dim or dim
        angles = torch.rand(capacity + sq, rotary_dim // 2, generator=gen, dtype=torch.float64) * 2 * math.pi
        rotary_cos, rotary_sin = angles.cos().to(dtype), angles.sin().to(dtype)
    options = dict(options or {})
    if options.get("alibi_slopes") == "heads":
        options["alibi_slopes"] = torch.rand(heads, generator=gen) * 0.3
    elif options.get("alibi_slopes") == "batch_heads":
        options["alibi_slopes"] = torch.rand(batch, heads, generator=gen) * 0.3
    problem = dict(q=q, k=k, v=v, k_cache=k_cache, v_cache=v_cache, rotary_cos=rotary_cos, rotary_sin=rotary_sin,
                   cache_seqlens=cache_seqlens, cache_batch_idx=cache_batch_idx, cache_leftpad=cache_leftpad,
                   block_table=block_table, rotary_interleaved=rotary != "half", options=options)
    poison_unused(problem)
    return to_device(problem, device)


def poison_unused(problem):
    """NaN in every cache slot the call must not read before writing it: beyond each row's
    length (the appended slots included), before its left pad, in rows and pages it does not
    use. Reading one would put NaN in the output; an appended slot left unwritten stays NaN."""
    k_cache, v_cache = problem["k_cache"], problem["v_cache"]
    used = torch.zeros(k_cache.shape[:2], dtype=torch.bool)
    s_new = 0 if problem["k"] is None else problem["k"].shape[1]
    pads = problem["cache_leftpad"]
    for b, length in enumerate(problem["cache_seqlens"].tolist()):
        start = 0 if pads is None else int(pads[b])
        # The slots the call appends to are poisoned as well: they must be written.
        for j in range(start, length):
            used[slot(problem, b, j)] = True
    k_cache[~used] = float("nan")
    v_cache[~used] = float("nan")


def to_device(problem, device):
    """Everything on `device`, index tensors included (the wrapper copies CUDA ones to the host)."""
    moved = {n: (x.to(device) if isinstance(x, torch.Tensor) else x) for n, x in problem.items()}
    moved["options"] = {n: (x.to(device) if isinstance(x, torch.Tensor) else x) for n, x in problem["options"].items()}
    return moved


def call(problem, **overrides):
    arguments = dict(
        q=problem["q"], k_cache=problem["k_cache"], v_cache=problem["v_cache"], k=problem["k"], v=problem["v"],
        rotary_cos=problem["rotary_cos"], rotary_sin=problem["rotary_sin"], cache_seqlens=problem["cache_seqlens"],
        cache_batch_idx=problem["cache_batch_idx"], cache_leftpad=problem["cache_leftpad"],
        block_table=problem["block_table"], rotary_interleaved=problem["rotary_interleaved"], return_softmax_lse=True,
        **problem["options"])
    arguments.update(overrides)
    return flash_attn_with_kvcache(**arguments)


def on_host(problem):
    return {n: (x.cpu() if isinstance(x, torch.Tensor) else x) for n, x in problem.items()} | {
        "options": {n: (x.cpu() if isinstance(x, torch.Tensor) else x) for n, x in problem["options"].items()}}


def check(problem, **overrides):
    """Runs the call on a copy of the caches and checks out, LSE and both caches."""
    host = on_host(problem)
    k_before = host["k_cache"].clone()
    oracle = kvcache_reference(host, torch.float64)
    naive = kvcache_reference(host, host["q"].dtype)
    out, lse = call(problem, **overrides)
    dtype = host["q"].dtype
    assert out.dtype == dtype and out.shape == host["q"].shape
    out, lse = out.cpu(), lse.cpu()
    assert_within_budget("out", out, oracle[0], naive[0], 2, dtype)
    # The LSE is computed from the stored (rounded) rotated q and k: compare it with the float64
    # attention of those.
    check_lse(lse, kvcache_reference(host, torch.float64, round_rotation=True)[1] if host["rotary_cos"] is not None
              else oracle[1])
    empty = torch.isinf(oracle[1]).permute(0, 2, 1)  # (B, Sq, H)
    assert torch.all(out[empty] == 0), "rows that see no key must be 0"
    # V: exactly the expected cache (NaN where it was poisoned and never written).
    v_after = problem["v_cache"].cpu().double()
    torch.testing.assert_close(v_after, oracle[3], rtol=0, atol=0, equal_nan=True)
    # K: unchanged outside the appended slots; appended slots within 1e-3 (norm-wise relative)
    # of the float64 rotation, or the storage type's unit roundoff when that is larger.
    k_after = problem["k_cache"].cpu().double()
    appended = torch.isnan(k_before.double()) & ~torch.isnan(oracle[2])
    torch.testing.assert_close(k_after[~appended], k_before.double()[~appended], rtol=0, atol=0, equal_nan=True)
    if appended.any():
        got, want = k_after[appended], oracle[2][appended]
        error = ((got - want).norm() / want.norm().clamp(min=1e-30)).item()
        assert error <= max(1e-3, UNIT_ROUNDOFF[dtype]), f"appended k error {error:.3e}"
    return out, lse


# ---------------------------------------------------------------------------------------------
# Correctness


@pytest.mark.parametrize("page_size", [None, 1, 3, 16, 256], ids=lambda p: "contiguous" if p is None else f"page{p}")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_layouts(device, page_size, dtype):
    problem = make_problem(device, dtype, page_size=page_size, capacity=50, s_new=2)
    check(problem)


@pytest.mark.parametrize("page_size", [None, 3, 16])
@pytest.mark.parametrize("rotary", ["interleaved", "half"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_rotary(device, page_size, rotary, causal, dtype):
    problem = make_problem(device, dtype, page_size=page_size, sq=3, s_new=3, rotary=rotary,
                           options=dict(causal=causal))
    check(problem)


@pytest.mark.parametrize("rotary", ["interleaved", "half"])
def test_partial_rotary_dim(device, rotary):
    problem = make_problem(device, torch.bfloat16, dim=40, rotary=rotary, rotary_dim=16, s_new=2, sq=2,
                           options=dict(window_size=(7, 0)))
    check(problem)


OPTION_CASES = {
    "causal": dict(causal=True),
    "window": dict(window_size=(6, 2)),
    "causal_window": dict(causal=True, window_size=(5, -1)),
    "softcap": dict(softcap=3.0),
    "scale": dict(softmax_scale=0.3),
    "alibi_heads": dict(alibi_slopes="heads"),
    "alibi_batch_heads": dict(alibi_slopes="batch_heads", causal=True),
    "everything": dict(causal=True, window_size=(9, -1), softcap=2.5, softmax_scale=0.25, alibi_slopes="heads"),
}


@pytest.mark.parametrize("name", list(OPTION_CASES))
@pytest.mark.parametrize("sq,s_new", [(1, 1), (6, 4)])
def test_options(device, name, sq, s_new):
    problem = make_problem(device, torch.float16, sq=sq, s_new=s_new, page_size=16, options=OPTION_CASES[name])
    check(problem)


@pytest.mark.parametrize("heads,kv_heads", [(8, 1), (6, 2), (3, 3)])
def test_gqa(device, heads, kv_heads):
    problem = make_problem(device, torch.bfloat16, heads=heads, kv_heads=kv_heads, sq=2, s_new=2,
                           options=dict(causal=True))
    check(problem)


@pytest.mark.parametrize("page_size", [None, 3])
def test_cache_leftpad(device, page_size):
    problem = make_problem(device, torch.float16, page_size=page_size, leftpad=True, sq=2, s_new=2, rotary="half",
                           options=dict(causal=True))
    check(problem)


def test_cache_batch_idx(device):
    problem = make_problem(device, torch.float16, batch_idx=True, batch=4, s_new=2, rotary="interleaved")
    check(problem)


def test_per_row_lengths_including_empty(device):
    # A row with an empty cache and no new keys sees nothing: out 0, LSE +inf.
    problem = make_problem(device, torch.float16, s_new=0, lengths=[0, 17, 40], page_size=3)
    out, lse = check(problem)
    assert torch.all(out[0] == 0) and torch.all(torch.isposinf(lse[0]))


def test_no_new_keys_and_full_cache(device):
    problem = make_problem(device, torch.float16, s_new=0, lengths=[40, 40, 40], sq=4, options=dict(causal=True))
    check(problem)


def test_chunked_prefill(device):
    # Several queries and keys at once on an empty paged cache (the first chunk of a prompt).
    problem = make_problem(device, torch.bfloat16, sq=9, s_new=9, lengths=[0, 5, 11], page_size=4, rotary="half",
                           options=dict(causal=True))
    check(problem)


@pytest.mark.parametrize("num_splits", [1, 3, 0])
def test_num_splits(device, num_splits):
    problem = make_problem(device, torch.bfloat16, batch=1, capacity=300, lengths=[290], s_new=1, page_size=16)
    check(problem, num_splits=num_splits)


def test_int_cache_seqlens_and_default_return(device):
    problem = make_problem(device, torch.float16, lengths=[7, 7, 7])
    host = on_host(problem)
    oracle = kvcache_reference(host, torch.float64)
    naive = kvcache_reference(host, torch.float16)
    out = flash_attn_with_kvcache(problem["q"], problem["k_cache"], problem["v_cache"], problem["k"], problem["v"],
                                  cache_seqlens=7)
    assert isinstance(out, torch.Tensor)
    assert_within_budget("out", out.cpu(), oracle[0], naive[0], 2, torch.float16)


def test_cache_seqlens_none_means_full(device):
    problem = make_problem(device, torch.float16, s_new=0, lengths=[40, 40, 40])
    expected, _ = call(problem)
    got = flash_attn_with_kvcache(problem["q"], problem["k_cache"], problem["v_cache"])
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_int64_and_strided_indices(device):
    problem = make_problem(device, torch.float16, page_size=3, s_new=2)
    table = problem["block_table"]
    wide = torch.zeros(table.shape[1], table.shape[0], dtype=torch.int64, device=table.device)
    wide.copy_(table.t())
    lengths = problem["cache_seqlens"].to(torch.int64)
    check(problem, block_table=wide.t(), cache_seqlens=lengths)


def test_strided_caches_are_written_in_place(device):
    # K and V caches as views into one (B, S, 2, Hk, D) tensor, q transposed: read and written
    # through their strides, nothing copied.
    problem = make_problem(device, torch.float16, page_size=None, s_new=2, rotary="interleaved", sq=2,
                           options=dict(causal=True))
    kv = torch.stack([problem["k_cache"], problem["v_cache"]], dim=2)
    problem["k_cache"], problem["v_cache"] = kv[:, :, 0], kv[:, :, 1]
    problem["q"] = problem["q"].transpose(1, 2).contiguous().transpose(1, 2)
    check(problem)
    assert problem["k_cache"].data_ptr() == kv.data_ptr()


def test_exported_like_the_reference():
    assert from_interface is flash_attn_with_kvcache


# ---------------------------------------------------------------------------------------------
# flash_attn_varlen_func with a block_table (paged K/V, one call per sequence)


@pytest.mark.parametrize("page_size", [1, 5, 16])
@pytest.mark.parametrize("options", [dict(causal=True), dict(window_size=(4, 1), softcap=2.0), dict(alibi="batch")],
                         ids=["causal", "window_softcap", "alibi"])
def test_paged_varlen(device, page_size, options):
    from flash_attn import flash_attn_varlen_func

    dtype, heads, kv_heads, dim = torch.float16, 4, 2, 24
    lengths_q, lengths_k = [3, 0, 9, 1], [7, 5, 9, 30]
    batch, max_blocks = len(lengths_q), math.ceil(max(lengths_k) / page_size)
    pages = batch * max_blocks + 2
    q = torch.randn(sum(lengths_q), heads, dim, dtype=dtype)
    k_cache = torch.randn(pages, page_size, kv_heads, dim, dtype=dtype)
    v_cache = torch.randn(pages, page_size, kv_heads, dim, dtype=dtype)
    table = torch.randperm(pages)[: batch * max_blocks].view(batch, max_blocks).to(torch.int32)
    cu_q = torch.tensor([0] + lengths_q, dtype=torch.int32).cumsum(0).to(torch.int32)
    cu_k = torch.tensor([0] + lengths_k, dtype=torch.int32).cumsum(0).to(torch.int32)
    options = dict(options)
    if options.pop("alibi", None):
        options["alibi_slopes"] = torch.rand(batch, heads) * 0.3
    moved = lambda t: t.to(device)
    out, lse, _ = flash_attn_varlen_func(
        moved(q), moved(k_cache), moved(v_cache), moved(cu_q), moved(cu_k), max(lengths_q), max(lengths_k),
        block_table=moved(table), return_attn_probs=True,
        **{n: (moved(x) if isinstance(x, torch.Tensor) else x) for n, x in options.items()})
    out, lse = out.cpu(), lse.cpu()
    for b in range(batch):
        q0, q1 = int(cu_q[b]), int(cu_q[b + 1])
        if q1 == q0:
            continue
        keys = [(int(table[b, j // page_size]), j % page_size) for j in range(lengths_k[b])]
        kk = torch.stack([k_cache[p, r] for p, r in keys]).unsqueeze(0)
        vv = torch.stack([v_cache[p, r] for p, r in keys]).unsqueeze(0)
        ref = dict(causal=options.get("causal", False), window=options.get("window_size", (-1, -1)),
                   softcap=options.get("softcap", 0.0))
        if "alibi_slopes" in options:
            ref["alibi"] = options["alibi_slopes"][b]
        oracle = attention_reference(q[q0:q1].unsqueeze(0), kk, vv, **ref)
        naive = attention_reference(q[q0:q1].unsqueeze(0), kk, vv, compute_dtype=dtype, **ref)
        assert_within_budget("out", out[q0:q1].unsqueeze(0), oracle[0], naive[0], 2, dtype)
        check_lse(lse[:, q0:q1].unsqueeze(0), oracle[1])


def test_paged_varlen_is_inference_only():
    from flash_attn import flash_attn_varlen_func

    q = torch.randn(4, 2, 8, dtype=torch.float16, requires_grad=True)
    cache = torch.randn(3, 4, 2, 8, dtype=torch.float16)
    cu, table = torch.tensor([0, 4], dtype=torch.int32), torch.tensor([[0]], dtype=torch.int32)
    with pytest.raises(FlashAttentionError) as info:
        flash_attn_varlen_func(q, cache, cache, cu, cu, 4, 4, block_table=table)
    assert info.value.status == "FA_ERROR_UNSUPPORTED"
    with torch.no_grad():
        out = flash_attn_varlen_func(q, cache, cache, cu, cu, 4, 4, block_table=table)
    assert out.shape == q.shape
    with pytest.raises(FlashAttentionError, match="'dropout_p'"):
        flash_attn_varlen_func(q.detach(), cache, cache, cu, cu, 4, 4, dropout_p=0.1, block_table=table)
    with pytest.raises(FlashAttentionError, match="'cu_seqlens_k'"):
        flash_attn_varlen_func(q.detach(), cache, cache, cu, torch.tensor([0, 2, 4], dtype=torch.int32), 4, 4,
                               block_table=table)


# ---------------------------------------------------------------------------------------------
# Errors: named arguments, nothing written


def expect(argument, problem, **overrides):
    k_before, v_before = problem["k_cache"].clone(), problem["v_cache"].clone()
    with pytest.raises(FlashAttentionError) as info:
        call(problem, **overrides)
    assert f"'{argument}'" in str(info.value), str(info.value)
    torch.testing.assert_close(problem["k_cache"], k_before, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(problem["v_cache"], v_before, rtol=0, atol=0, equal_nan=True)
    return info.value


def test_errors_name_the_argument():
    p = make_problem("cpu", torch.float16, s_new=2, lengths=[3, 4, 5])
    expect("q", p, q=p["q"][0])
    expect("q", p, q="not a tensor")
    expect("k_cache", p, k_cache=p["k_cache"].float())
    expect("v_cache", p, v_cache=p["v_cache"][:, :10])
    expect("k", p, k=p["k"][..., :8])
    expect("v", p, v=None)
    expect("k", p, k=None)
    expect("cache_seqlens", p, cache_seqlens=torch.tensor([1, 2], dtype=torch.int32))
    expect("cache_seqlens", p, cache_seqlens=torch.tensor([1, 2, 39], dtype=torch.int32))  # + 2 new > 40
    expect("cache_seqlens", p, cache_seqlens=torch.tensor([-1, 2, 3], dtype=torch.int32))
    expect("cache_seqlens", p, cache_seqlens=torch.tensor([1.0, 2.0, 3.0]))
    expect("cache_seqlens", p, cache_seqlens="3")
    expect("cache_seqlens", p, cache_seqlens=2**40)
    expect("cache_batch_idx", p, cache_batch_idx=torch.tensor([0, 1, 7], dtype=torch.int32))
    expect("cache_batch_idx", p, cache_batch_idx=torch.tensor([0, 1, 1], dtype=torch.int32))  # duplicate with append
    expect("cache_leftpad", p, cache_leftpad=torch.tensor([0, 5, 0], dtype=torch.int32))  # 5 > length 4
    expect("num_splits", p, num_splits=-1)
    expect("num_splits", p, num_splits="2")
    expect("window_size", p, window_size=None)
    expect("softcap", p, softcap=-1.0)
    expect("alibi_slopes", p, alibi_slopes=torch.ones(3))
    cos = torch.ones(50, 8, dtype=torch.float16)
    expect("rotary_sin", p, rotary_cos=cos)
    expect("rotary_cos", p, rotary_sin=cos)
    expect("rotary_cos", p, rotary_cos=torch.ones(50, 20, dtype=torch.float16), rotary_sin=torch.ones(50, 20, dtype=torch.float16))
    expect("rotary_cos", p, rotary_cos=cos[:4], rotary_sin=cos[:4])  # too few positions
    expect("rotary_cos", p, rotary_cos=cos, rotary_sin=cos, k=None, v=None)  # rotary needs new keys
    expect("cache_seqlens", p, cache_seqlens=torch.tensor([3, 4, 5], dtype=torch.int64) * 2**33)


def test_paged_errors_name_the_argument():
    p = make_problem("cpu", torch.float16, s_new=1, page_size=4, lengths=[3, 4, 5])
    table = p["block_table"]
    expect("cache_seqlens", p, block_table=table[:, :1].contiguous())  # lengths beyond one page
    bad = table.clone()
    bad[1, 0] = 10_000
    expect("block_table", p, block_table=bad)
    # Rows 0 and 1 sharing pages may read them (a common prefix) but not append into one slot.
    p_same = make_problem("cpu", torch.float16, s_new=1, page_size=4, lengths=[3, 3, 5])
    shared = p_same["block_table"].clone()
    shared[1] = shared[0]
    expect("block_table", p_same, block_table=shared)
    expect("block_table", p, block_table=table.float())
    expect("block_table", p, block_table=table[0])
    expect("cache_batch_idx", p, cache_batch_idx=torch.tensor([0, 1, 2], dtype=torch.int32))


# ---------------------------------------------------------------------------------------------
# The C ABI directly (ctypes descriptors)


def describe(t, dtype, device_type=None):
    """An fa_tensor of `t` (kept alive by the caller)."""
    from flash_attn import _library as lib

    d = lib.FATensor()
    d.data, d.dtype, d.rank = t.data_ptr(), dtype, t.dim()
    d.device_type = lib.DEVICE_CPU if device_type is None else device_type
    for axis in range(t.dim()):
        d.shape[axis], d.strides[axis] = t.shape[axis], t.stride(axis)
    return d


def kvcache_call(device_type, seqlens=None, block_table=None):
    """fa_kvcache_forward on a tiny float16 problem described as on `device_type`: (status, message)."""
    import ctypes

    from flash_attn import _library as lib

    q, cache = torch.zeros(1, 1, 2, 8, dtype=torch.float16), torch.zeros(1, 4, 2, 8, dtype=torch.float16)
    out = torch.empty_like(q)
    dq, dk, dv, do = (describe(t, lib.DTYPE_FLOAT16, device_type) for t in (q, cache, cache, out))
    ref = ctypes.addressof
    status = lib.library.fa_kvcache_forward(
        ref(dq), ref(dk), ref(dv), None, None, None, None, 1, seqlens and ref(seqlens), None, None,
        block_table and ref(block_table), 0, ref(do), None, None, None)
    return status, lib.library.fa_last_error().decode()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_cuda_descriptors_without_cuda_report_a_clean_error():
    # A CUDA descriptor must reach the CUDA backend (and fail cleanly here, no driver), never be
    # read as host memory.
    from flash_attn import _library as lib

    lengths = torch.tensor([2], dtype=torch.int32)
    status, message = kvcache_call(lib.DEVICE_CUDA, describe(lengths, lib.DTYPE_INT32))
    assert status in (2, 3) and message, (status, message)  # unsupported or device unavailable


def test_c_abi_index_tensor_checks():
    # A NULL cache_seqlens, a device-memory index tensor and a wrong-rank block table are
    # argument errors naming them.
    from flash_attn import _library as lib

    cpu = lib.DEVICE_CPU
    lengths, table = torch.tensor([2], dtype=torch.int32), torch.zeros(4, dtype=torch.int32)
    status, message = kvcache_call(cpu)
    assert status == 1 and "'cache_seqlens'" in message
    status, message = kvcache_call(cpu, describe(lengths, lib.DTYPE_INT32, lib.DEVICE_CUDA))
    assert status == 1 and "'cache_seqlens'" in message and "host" in message
    status, message = kvcache_call(cpu, describe(lengths, lib.DTYPE_INT32), describe(table, lib.DTYPE_INT32))
    assert status == 1 and "'block_table'" in message and "rank 2" in message
    status, message = kvcache_call(cpu, describe(lengths, lib.DTYPE_INT32))
    assert status == 0 and message == ""
