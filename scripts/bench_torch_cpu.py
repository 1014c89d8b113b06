#!/usr/bin/env python3
"""PyTorch's CPU scaled_dot_product_attention as the peer of `flash-attn bench --device cpu`.

A long-lived worker driven over stdin/stdout, one JSON object per line, so torch is imported
once and every point of the benchmark grid runs on the very inputs the Swift side timed:

  -> {"op": "hello", "threads": 2}
  <- {"ok": true, "torch": "2.13.0+cpu", "threads": 2}
  -> {"op": "bench", "q": "q.npy", "k": "k.npy", "v": "v.npy", "do": "do.npy",
      "dtype": "bfloat16", "causal": true, "repeats": 3, "warmup": true, "backward": true,
      "out": "o.npy"}
  <- {"ok": true, "fwd_ms": [...], "bwd_ms": [...], "fwd_peak_bytes": N, "bwd_peak_bytes": N}
  -> {"op": "quit"}

Inputs are float32 .npy files in the (B, S, H, D) layout whose values are already rounded to
`dtype`; they are converted to `dtype` and to torch's (B, H, S, D) layout (contiguous) before
any timing. Forward is timed under no_grad; backward alone is timed with
torch.autograd.grad(..., retain_graph=True) on one recorded forward, so each pass compares
with the Swift side's pass of the same name. With "warmup" false (large problems, where the
caller keeps the first run as a sample too) the first timed forward also gives the output
written to "out". Peak extra memory is this process's VmHWM after the call minus its VmRSS before
(Linux: writing "5" to /proc/self/clear_refs resets VmHWM), after glibc's malloc_trim(0) has
returned free heap pages to the OS; 0 where /proc is missing.
Errors are reported as {"ok": false, "error": "..."} and the worker keeps serving.
"""
import json
import sys
import time


def status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


try:
    import ctypes

    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):
    _malloc_trim = None


def measured(fn):
    """Runs fn once; returns (milliseconds, peak extra bytes).

    Free heap memory goes back to the OS first (glibc malloc_trim), as on the Swift side, so
    memory reused from an earlier call is counted."""
    if _malloc_trim is not None:
        _malloc_trim(0)
    before = status_kib("VmRSS")
    have_peak = reset_peak()
    start = time.perf_counter()
    fn()
    elapsed = (time.perf_counter() - start) * 1e3
    peak = status_kib("VmHWM") if have_peak else 0
    return elapsed, max(0, peak - before) * 1024


def main():
    import numpy as np
    import torch
    import torch.nn.functional as F

    types = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

    def load(path, dtype):
        array = np.load(path)
        return torch.from_numpy(array).to(dtype).permute(0, 2, 1, 3).contiguous()

    def bench(req):
        dtype = types[req["dtype"]]
        q, k, v = (load(req[name], dtype) for name in ("q", "k", "v"))
        causal = bool(req.get("causal", False))
        repeats = int(req.get("repeats", 3))
        gqa = q.shape[1] != k.shape[1]
        kwargs = {"is_causal": causal}
        if gqa:
            kwargs["enable_gqa"] = True
        result = {"ok": True}

        def forward():
            with torch.no_grad():
                return F.scaled_dot_product_attention(q, k, v, **kwargs)

        warmup = bool(req.get("warmup", True))
        fwd = []
        if warmup:
            out = forward()
        else:  # large problems: the first run is a sample too
            holder = {}
            fwd.append(measured(lambda: holder.setdefault("out", forward())))
            out = holder.pop("out")
        if req.get("out"):  # torch's output for the caller's agreement check
            np.save(req["out"], out.float().permute(0, 2, 1, 3).contiguous().numpy())
        del out
        fwd += [measured(forward) for _ in range(repeats - len(fwd))]
        result["fwd_ms"] = [t for t, _ in fwd]
        result["fwd_peak_bytes"] = max(p for _, p in fwd)

        if req.get("backward"):
            dout = load(req["do"], dtype)
            qg, kg, vg = (t.detach().requires_grad_(True) for t in (q, k, v))
            o = F.scaled_dot_product_attention(qg, kg, vg, **kwargs)

            def backward():
                torch.autograd.grad(o, (qg, kg, vg), dout, retain_graph=True)

            bwd = []
            if warmup:
                backward()
            bwd += [measured(backward) for _ in range(repeats)]
            result["bwd_ms"] = [t for t, _ in bwd]
            result["bwd_peak_bytes"] = max(p for _, p in bwd)
        return result

    while True:
        line = sys.stdin.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "quit":
                break
            if op == "hello":
                torch.set_num_threads(int(req.get("threads", torch.get_num_threads())))
                reply = {"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads()}
            elif op == "bench":
                reply = bench(req)
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
        except Exception as error:  # report and keep serving
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
