"""Padding helpers of the reference library's ``flash_attn.bert_padding``, in plain torch.

They turn a padded batch (batch, seqlen, ...) plus an attention mask into the packed
(total_tokens, ...) layout of the varlen functions and back::

    x, indices, cu_seqlens, max_seqlen, _ = unpad_input(hidden_states, attention_mask)
    out = flash_attn_varlen_func(q, k, v, cu_seqlens, cu_seqlens, max_seqlen, max_seqlen)
    out = pad_input(out, indices, batch, seqlen)

All of them are differentiable and work on any device.
"""

import torch

from ._library import FlashAttentionError

__all__ = ["index_first_axis", "index_put_first_axis", "pad_input", "unpad_input"]


def _fail(name, expected):
    return FlashAttentionError(f"invalid argument '{name}': expected {expected}")


def _check_indices(indices):
    if not isinstance(indices, torch.Tensor) or indices.dim() != 1 or indices.dtype not in (torch.int32, torch.int64):
        shape = tuple(indices.shape) if isinstance(indices, torch.Tensor) else type(indices).__name__
        raise _fail("indices", f"a rank-1 int64 (or int32) tensor, got {shape}")


def index_first_axis(input, indices):
    """``input[indices]`` along the first axis: (first_axis_dim, ...) -> (len(indices), ...).

    The gradient scatters back into a zero tensor of input's shape (rows never selected get 0).
    """
    if not isinstance(input, torch.Tensor) or input.dim() < 1:
        raise _fail("input", "a tensor of rank ≥ 1")
    _check_indices(indices)
    return torch.index_select(input, 0, indices.long())


def index_put_first_axis(values, indices, first_axis_dim):
    """The inverse of index_first_axis: a (first_axis_dim, ...) zero tensor with row
    ``indices[i]`` set to ``values[i]``. Differentiable with respect to values."""
    if not isinstance(values, torch.Tensor) or values.dim() < 1:
        raise _fail("values", "a tensor of rank ≥ 1")
    _check_indices(indices)
    if indices.shape[0] != values.shape[0]:
        raise _fail("indices", f"one index per row of values ({values.shape[0]}), got {indices.shape[0]}")
    output = values.new_zeros((first_axis_dim, *values.shape[1:]))
    # index_copy (not index_put_ on a leaf) keeps the autograd graph to `values`.
    return output.index_copy(0, indices.long(), values)


def unpad_input(hidden_states, attention_mask, unused_mask=None):
    """Removes the padding tokens of a batch.

    Arguments:
        hidden_states: (batch, seqlen, ...).
        attention_mask: (batch, seqlen), bool or int; nonzero marks a valid token.
        unused_mask [optional]: (batch, seqlen), bool or int; nonzero marks tokens that are
            allocated but unused: they are kept in the packed output (counted in cu_seqlens)
            but not in the returned seqused.
    Return:
        hidden_states: (total_nnz, ...), the selected tokens, batch row after batch row.
        indices: (total_nnz,) int64, their positions in the flattened (batch · seqlen) input.
        cu_seqlens: (batch + 1,) int32, cumulative lengths of the kept tokens per row.
        max_seqlen_in_batch: int.
        seqused: (batch,) int32, valid tokens (attention_mask only) per row.
    """
    if not isinstance(hidden_states, torch.Tensor) or hidden_states.dim() < 2:
        raise _fail("hidden_states", "a tensor (batch, seqlen, ...)")
    if not isinstance(attention_mask, torch.Tensor) or tuple(attention_mask.shape) != tuple(hidden_states.shape[:2]):
        shape = tuple(attention_mask.shape) if isinstance(attention_mask, torch.Tensor) else type(attention_mask).__name__
        raise _fail("attention_mask", f"shape {tuple(hidden_states.shape[:2])} (batch, seqlen), got {shape}")
    valid = attention_mask != 0
    kept = valid
    if unused_mask is not None:
        if not isinstance(unused_mask, torch.Tensor) or unused_mask.shape != attention_mask.shape:
            raise _fail("unused_mask", f"shape {tuple(attention_mask.shape)} like attention_mask")
        kept = valid | (unused_mask != 0)
    seqlens = kept.sum(dim=-1, dtype=torch.int32)
    seqused = valid.sum(dim=-1, dtype=torch.int32)
    indices = torch.nonzero(kept.flatten()).flatten()
    cu_seqlens = torch.nn.functional.pad(torch.cumsum(seqlens, dim=0, dtype=torch.int32), (1, 0))
    max_seqlen = int(seqlens.max().item()) if seqlens.numel() else 0
    flat = hidden_states.reshape(-1, *hidden_states.shape[2:])
    return index_first_axis(flat, indices), indices, cu_seqlens, max_seqlen, seqused


def pad_input(hidden_states, indices, batch, seqlen):
    """Puts packed tokens back into a zero-padded batch.

    Arguments:
        hidden_states: (total_nnz, ...), as returned by unpad_input (or a varlen output).
        indices: (total_nnz,), the indices unpad_input returned.
        batch, seqlen: the padded batch's sizes.
    Return:
        hidden_states: (batch, seqlen, ...), zeros at the padding.
    """
    output = index_put_first_axis(hidden_states, indices, batch * seqlen)
    return output.view(batch, seqlen, *hidden_states.shape[1:])
