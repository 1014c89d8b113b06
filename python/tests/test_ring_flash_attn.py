"""ring_flash_attn_func over simulated ranks: P processes on the CPU with the gloo backend,
each running this library's CPU kernels on its zigzag shard; forward and gradients must equal
flash_attn_func on the whole sequence within float32 rounding."""

import os
import socket
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIGS = [(causal, heads, kv_heads, softcap) for causal in (False, True)
           for heads, kv_heads, softcap in ((2, 2, 0.0), (4, 2, 0.0), (2, 1, 3.0))]


def _worker(rank, world_size, port, path):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        from flash_attn import flash_attn_func
        from flash_attn.ring_flash_attn import ring_flash_attn_func, zigzag_shard

        errors = {}
        for causal, heads, kv_heads, softcap in CONFIGS:
            torch.manual_seed(0)
            b, s, d = 2, 8 * world_size, 16
            q = torch.randn(b, s, heads, d)
            k = torch.randn(b, s, kv_heads, d)
            v = torch.randn(b, s, kv_heads, d)
            dout = torch.randn(b, s, heads, d)
            full = [t.clone().requires_grad_() for t in (q, k, v)]
            ref = flash_attn_func(*full, causal=causal, softcap=softcap)
            ref.backward(dout)
            local = [zigzag_shard(t, rank, world_size).requires_grad_() for t in (q, k, v)]
            out = ring_flash_attn_func(*local, causal=causal, softcap=softcap)
            out.backward(zigzag_shard(dout, rank, world_size))
            for name, got, want in [("out", out, ref), ("dq", local[0].grad, full[0].grad),
                                    ("dk", local[1].grad, full[1].grad), ("dv", local[2].grad, full[2].grad)]:
                want = zigzag_shard(want.detach(), rank, world_size)
                key = f"causal={causal} heads={heads}/{kv_heads} softcap={softcap} {name}"
                errors[key] = float((got.detach() - want).norm() / want.norm())
        torch.save(errors, f"{path}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("world_size", [2, 3])
def test_ring_equals_single_device(world_size):
    """Every config of CONFIGS (causal or not, MHA, GQA, softcap) in one spawn per world size."""
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    with tempfile.TemporaryDirectory() as path:
        mp.spawn(_worker, args=(world_size, _free_port(), path), nprocs=world_size)
        for rank in range(world_size):
            errors = torch.load(f"{path}/rank{rank}.pt")
            assert len(errors) == 4 * len(CONFIGS)
            for key, error in errors.items():
                assert error < 1e-5, f"rank {rank} {key}: relative error {error}"


def test_zigzag_round_trip():
    from flash_attn.ring_flash_attn import zigzag_shard, zigzag_unshard

    x = torch.arange(24).view(1, 24, 1, 1)
    shards = [zigzag_shard(x, r, 3) for r in range(3)]
    assert shards[0].flatten().tolist() == [0, 1, 2, 3, 20, 21, 22, 23]
    assert torch.equal(zigzag_unshard(shards), x)


def test_refuses_window():
    from flash_attn import FlashAttentionError
    from flash_attn.ring_flash_attn import ring_flash_attn_func

    q = torch.randn(1, 4, 1, 8)
    with pytest.raises(FlashAttentionError, match="window"):
        ring_flash_attn_func(q, q, q, window_size=(2, 0))


def _cuda_main():
    """On GPUs: `torchrun --nproc_per_node=P python/tests/test_ring_flash_attn.py` checks
    ring_flash_attn_func over NCCL against flash_attn_func on the whole sequence (bf16, forward
    and backward) and times both at 128k tokens."""
    dist.init_process_group("nccl")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.cuda.set_device(rank)
    from flash_attn import flash_attn_func
    from flash_attn.ring_flash_attn import ring_flash_attn_func, zigzag_shard

    def problem(n, heads=16, d=128, seed=0):
        g = torch.Generator(device="cuda").manual_seed(seed)
        return [torch.randn(1, n, heads, d, device="cuda", dtype=torch.bfloat16, generator=g) for _ in range(4)]

    q, k, v, dout = problem(8192)
    full = [t.clone().requires_grad_() for t in (q, k, v)]
    ref = flash_attn_func(*full, causal=True)
    ref.backward(dout)
    local = [zigzag_shard(t, rank, world_size).requires_grad_() for t in (q, k, v)]
    out = ring_flash_attn_func(*local, causal=True)
    out.backward(zigzag_shard(dout, rank, world_size))
    errors = []
    for name, got, want in [("out", out, ref), ("dq", local[0].grad, full[0].grad),
                            ("dk", local[1].grad, full[1].grad), ("dv", local[2].grad, full[2].grad)]:
        want = zigzag_shard(want.detach(), rank, world_size).float()
        errors.append(f"{name} {float((got.detach().float() - want).norm() / want.norm()):.2e}")
    print(f"[rank {rank}] python ring P={world_size} bf16 N=8192 causal: " + " ".join(errors), flush=True)

    def timed(fn, iterations=3):
        fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(iterations):
            dist.barrier()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        return sorted(times)[len(times) // 2]

    n = 131072
    q, k, v, dout = problem(n)
    local = [zigzag_shard(t, rank, world_size).requires_grad_() for t in (q, k, v)]
    ldout = zigzag_shard(dout, rank, world_size)
    del q, k, v, dout
    fwd = timed(lambda: ring_flash_attn_func(*local, causal=True))

    def fwd_bwd():
        ring_flash_attn_func(*local, causal=True).backward(ldout)

    both = timed(fwd_bwd)
    flops = 4 * n * n * 16 * 128 / 2
    if rank == 0:
        print(f"[rank 0] python ring P={world_size} bf16 N={n} H=16 D=128 causal: fwd {fwd:.1f} ms "
              f"{flops / world_size / fwd / 1e9:.0f} TFLOP/s/GPU, fwd+bwd {both:.1f} ms "
              f"{3.5 * flops / world_size / both / 1e9:.0f} TFLOP/s/GPU", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    _cuda_main()
