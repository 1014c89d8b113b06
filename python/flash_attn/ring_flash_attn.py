"""Ring (context-parallel) attention over a torch.distributed process group.

Every rank holds a zigzag shard of one long sequence: with P ranks the sequence is cut into 2P
chunks and rank r holds chunks r and 2P-1-r (``zigzag_shard`` / ``zigzag_unshard``), so under
a causal mask every rank does the same work. K/V travel around the ring with
``torch.distributed`` point-to-point sends (NCCL on GPUs, gloo on the CPU) while each rank runs
this library's kernels on the block it holds; partial results merge through their log-sum-exp
in float32. The backward recomputes each block against the global output and LSE: dQ stays
local, dK/dV (float32) travel with their K/V and return to their owner.

    out = ring_flash_attn_func(q, k, v, causal=True, group=None)

q (batch, seqlen/P, nheads, headdim) and k, v (batch, seqlen/P, nheads_k, headdim) are this
rank's shards. Softcap and GQA work as with ``flash_attn_func``; a sliding window, ALiBi and
dropout need global positions and are refused (the Swift ``UlyssesAttention`` runs window and
ALiBi).
"""

import torch
import torch.distributed as dist

from .flash_attn_interface import _backward, _forward
from ._library import FlashAttentionError

__all__ = ["ring_flash_attn_func", "zigzag_shard", "zigzag_unshard"]


def zigzag_shard(x, rank, world_size, dim=1):
    """Rank ``rank``'s zigzag shard of a full-sequence tensor: chunks rank and 2P-1-rank of
    2P equal chunks along ``dim``."""
    chunks = x.chunk(2 * world_size, dim=dim)
    return torch.cat([chunks[rank], chunks[2 * world_size - 1 - rank]], dim=dim).contiguous()


def zigzag_unshard(shards, dim=1):
    """The full-sequence tensor from every rank's shard (``shards[r]`` from rank r)."""
    world_size = len(shards)
    chunks = [None] * (2 * world_size)
    for r, s in enumerate(shards):
        first, second = s.chunk(2, dim=dim)
        chunks[r], chunks[2 * world_size - 1 - r] = first, second
    return torch.cat(chunks, dim=dim)


def _blocks(step, rank, world_size, causal):
    """(q part, k part, causal) calls of one ring step; parts are 'all', 'first', 'second'.
    Step 0 is causal on the local pair; afterwards a source rank before this one is seen in
    full by the first half of its K/V, one after it only by this rank's second half of Q."""
    if not causal:
        return [("all", "all", False)]
    if step == 0:
        return [("all", "all", True)]
    source = (rank - step) % world_size
    return [("all", "first", False)] if source < rank else [("second", "all", False)]


def _part(x, part, dim=1):
    if part == "all":
        return x
    half = x.shape[dim] // 2
    return x.narrow(dim, 0, half) if part == "first" else x.narrow(dim, half, half)


def _exchange(group, send, receive):
    """Sends every tensor of ``send`` to the next rank and receives ``receive`` from the
    previous one; returns the requests."""
    world_size, rank = dist.get_world_size(group), dist.get_rank(group)
    to_rank = dist.get_global_rank(group, (rank + 1) % world_size) if group is not None else (rank + 1) % world_size
    from_rank = dist.get_global_rank(group, (rank - 1) % world_size) if group is not None else (rank - 1) % world_size
    ops = [dist.P2POp(dist.isend, t, to_rank, group) for t in send]
    ops += [dist.P2POp(dist.irecv, t, from_rank, group) for t in receive]
    return dist.batch_isend_irecv(ops)


def _merge(out, lse, part_out, part_lse):
    """In place: (out, lse) <- merge((out, lse), (part_out, part_lse)); out float32
    (B, S, H, D), lse (B, H, S). +inf (a row that saw no key) counts as empty."""
    a = torch.where(torch.isinf(lse), torch.full_like(lse, -float("inf")), lse)
    b = torch.where(torch.isinf(part_lse), torch.full_like(part_lse, -float("inf")), part_lse)
    merged = torch.logaddexp(a, b)
    empty = torch.isneginf(merged)
    safe = torch.where(empty, torch.zeros_like(merged), merged)
    wa = torch.where(torch.isneginf(a), torch.zeros_like(a), torch.exp(a - safe)).transpose(1, 2).unsqueeze(-1)
    wb = torch.where(torch.isneginf(b), torch.zeros_like(b), torch.exp(b - safe)).transpose(1, 2).unsqueeze(-1)
    out.copy_(wa * torch.nan_to_num(out) + wb * torch.nan_to_num(part_out.float()))
    lse.copy_(torch.where(empty, torch.full_like(merged, float("inf")), merged))


def _check(window_size, alibi_slopes, dropout_p):
    if tuple(window_size) != (-1, -1):
        raise FlashAttentionError("unsupported: window_size with ring attention (the mask needs global positions)")
    if alibi_slopes is not None:
        raise FlashAttentionError("unsupported: alibi_slopes with ring attention (the bias needs global positions)")
    if dropout_p > 0:
        raise FlashAttentionError("unsupported: dropout_p > 0 with ring attention (the mask needs global indices)")


def _ring_forward(q, k, v, softmax_scale, causal, softcap, deterministic, group):
    world_size, rank = dist.get_world_size(group), dist.get_rank(group)
    if q.shape[1] % 2 or k.shape[1] != q.shape[1]:
        raise FlashAttentionError("invalid argument 'q': zigzag shards with an even local seqlen equal for q, k and v")
    b, s, h, d = q.shape
    out = torch.zeros((b, s, h, d), dtype=torch.float32, device=q.device)
    lse = torch.full((b, h, s), float("inf"), dtype=torch.float32, device=q.device)
    kv = (k.contiguous(), v.contiguous())
    for step in range(world_size):
        requests = []
        if step < world_size - 1:
            incoming = (torch.empty_like(kv[0]), torch.empty_like(kv[1]))
            requests = _exchange(group, kv, incoming)
        for qp, kp, block_causal in _blocks(step, rank, world_size, causal):
            part_out, part_lse = _forward(_part(q, qp), _part(kv[0], kp), _part(kv[1], kp), 0.0, softmax_scale,
                                          block_causal, (-1, -1), softcap, None, deterministic, 0)
            _merge(_part(out, qp), _part(lse, qp, dim=2), part_out, part_lse)
        for r in requests:
            r.wait()
        if step < world_size - 1:
            kv = incoming
    return out.to(q.dtype), lse


def _ring_backward(dout, q, k, v, out, lse, softmax_scale, causal, softcap, deterministic, group):
    world_size, rank = dist.get_world_size(group), dist.get_rank(group)
    dq = torch.zeros(q.shape, dtype=torch.float32, device=q.device)
    grads = (torch.zeros(k.shape, dtype=torch.float32, device=q.device),
             torch.zeros(v.shape, dtype=torch.float32, device=q.device))
    kv = (k.contiguous(), v.contiguous())
    dout, out = dout.contiguous(), out.contiguous()
    for step in range(world_size):
        requests = []
        if step < world_size - 1:
            incoming = (torch.empty_like(kv[0]), torch.empty_like(kv[1]))
            requests = _exchange(group, kv, incoming)
        for qp, kp, block_causal in _blocks(step, rank, world_size, causal):
            q_part, k_part, v_part = _part(q, qp), _part(kv[0], kp), _part(kv[1], kp)
            dq_step, dk_step, dv_step = torch.empty_like(q_part), torch.empty_like(k_part), torch.empty_like(v_part)
            _backward(_part(dout, qp), q_part, k_part, v_part, _part(out, qp), _part(lse, qp, dim=2).contiguous(),
                      dq_step, dk_step, dv_step, 0.0, softmax_scale, block_causal, (-1, -1), softcap, None,
                      deterministic, 0)
            _part(dq, qp).add_(dq_step.float())
            _part(grads[0], kp).add_(dk_step.float())
            _part(grads[1], kp).add_(dv_step.float())
        # The accumulators go on with their K/V; after P hops they are home.
        arrived = (torch.empty_like(grads[0]), torch.empty_like(grads[1]))
        grad_requests = _exchange(group, grads, arrived)
        for r in requests + grad_requests:
            r.wait()
        grads = arrived
        if step < world_size - 1:
            kv = incoming
    return dq.to(q.dtype), grads[0].to(k.dtype), grads[1].to(v.dtype)


class RingFlashAttnFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, softmax_scale, causal, softcap, deterministic, group):
        out, lse = _ring_forward(q, k, v, softmax_scale, causal, softcap, deterministic, group)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.options = (softmax_scale, causal, softcap, deterministic, group)
        ctx.mark_non_differentiable(lse)
        return out, lse

    @staticmethod
    def backward(ctx, dout, _dlse):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = _ring_backward(dout, q, k, v, out, lse, *ctx.options)
        return dq, dk, dv, None, None, None, None, None


def ring_flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                         softcap=0.0, alibi_slopes=None, deterministic=False, return_attn_probs=False, group=None):
    """Attention over a sequence sharded across the ranks of ``group`` (zigzag layout, see
    ``zigzag_shard``), with the arguments of ``flash_attn_func``.

    Returns out (batch, seqlen/P, nheads, headdim), this rank's shard; with
    ``return_attn_probs`` also softmax_lse (batch, nheads, seqlen/P) and None (no probabilities).
    """
    _check(window_size, alibi_slopes, dropout_p)
    out, lse = RingFlashAttnFunction.apply(q, k, v, softmax_scale, causal, softcap, deterministic, group)
    return (out, lse, None) if return_attn_probs else out
