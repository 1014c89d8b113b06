import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// PyTorch's CPU `scaled_dot_product_attention(..., enable_gqa=True)` on the decode benchmark's
/// own cache, in a long-lived `python3` worker (the script is embedded below, so `bench
/// --decode` needs no file of its own). One JSON request per line, one reply per line.
///
/// The Swift side writes q and the contiguous caches as raw bfloat16 (or float16/float32)
/// bytes to files in /dev/shm; torch maps them, converts once to its preferred (B, Hk, S, D)
/// contiguous layout (untimed) and times the call on those values. Torch's output comes back
/// as raw float32 (B, 1, H, D) for the agreement check.
final class DecodeBenchTorch {
    struct Reply: Decodable {
        var ok: Bool
        var error: String?
        var torch: String?
        var ms: [Double]?
    }

    static let script = #"""
import json, sys, time
def main():
    import numpy as np
    import torch
    import torch.nn.functional as F
    kinds = {"bfloat16": (np.uint16, torch.bfloat16), "float16": (np.float16, torch.float16), "float32": (np.float32, torch.float32)}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "quit":
                break
            if op == "hello":
                torch.set_num_threads(int(req["threads"]))
                reply = {"ok": True, "torch": torch.__version__}
            elif op == "decode":
                B, S, H, Hk, D = (int(req[key]) for key in ("batch", "context", "heads", "kv_heads", "head_dim"))
                raw, dtype = kinds[req["dtype"]]
                def load(path, shape):
                    array = np.memmap(path, dtype=raw, mode="c", shape=shape)
                    tensor = torch.from_numpy(array)
                    if raw is np.uint16:
                        tensor = tensor.view(torch.bfloat16)
                    return tensor.permute(0, 2, 1, 3).contiguous()
                q = load(req["q"], (B, 1, H, D))
                k = load(req["k"], (B, S, Hk, D))
                v = load(req["v"], (B, S, Hk, D))
                kwargs = {"enable_gqa": True} if H != Hk else {}
                def run():
                    with torch.no_grad():
                        return F.scaled_dot_product_attention(q, k, v, **kwargs)
                out = run()
                flush = np.zeros(int(req.get("evict_bytes", 0)) // 8, dtype=np.uint64)
                times = []
                for _ in range(int(req["repeats"])):
                    flush += 1  # as on the Swift side: nothing of the last call left in L3
                    start = time.perf_counter()
                    run()
                    times.append((time.perf_counter() - start) * 1e3)
                out.float().permute(0, 2, 1, 3).contiguous().numpy().tofile(req["out"])
                del q, k, v, out
                reply = {"ok": True, "ms": times}
            else:
                reply = {"ok": False, "error": "unknown op %r" % (op,)}
        except Exception as error:
            reply = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
main()
"""#

    private let worker: PythonWorker
    private(set) var version = ""

    /// Starts the worker, or throws why not (no python3, no torch).
    /// - Parameter script: the worker's Python source (the CPU worker above by default; the GPU
    ///   bench passes ``DecodeBenchCUDA/torchScript``).
    init(threads: Int, script: String = DecodeBenchTorch.script) throws {
        worker = try PythonWorker(arguments: ["-c", script], threads: threads,
                                  exitMessage: "the torch worker exited (python3 with torch is needed)")
        let hello: Reply = try worker.request(["op": "hello", "threads": threads])
        guard hello.ok, let version = hello.torch else { throw CLIError(message: "torch did not start: \(hello.error ?? "no reply")") }
        self.version = version
    }

    /// Times torch on the files of one point; returns the per-run milliseconds.
    func decode(_ fields: [String: Any]) throws -> [Double] {
        var message = fields
        message["op"] = "decode"
        let reply: Reply = try worker.request(message)
        guard reply.ok, let ms = reply.ms else { throw CLIError(message: "torch failed: \(reply.error ?? "no reply")") }
        return ms
    }
}
