import CUDADriver
import FlashAttention
import FlashAttentionCUDA
import FlashAttentionReference

/// `flash-attn verify --kvcache`: random KV-cache calls (``KVCacheSpec``) against the float64
/// oracle, out/LSE and the caches after the append (``KVCacheCheck``).
///
/// On CUDA, even cases pass host tensors (the staged path: uploaded, outputs poisoned, caches
/// copied back) and odd cases device tensors (the in-place path on the backend's stream that
/// frameworks use): every tensor is uploaded, the call runs on the device views, and out, LSE
/// and both caches are copied back for the check.
struct VerifyKVCache {
    let device: DeviceSelection
    let cases: Int
    let seed: UInt64
    let types: [ElementType]
    let index: Int?
    let verbose: Bool
    let threads: Int?

    func run() throws -> (passed: Int, failed: Int, backend: String) {
        let backend = try FlashAttention.kvCacheBackend(for: device, threads: threads)
        let types = self.types.isEmpty ? (backend.name == "cpu" ? [ElementType.float32, .bfloat16, .float16] : [.bfloat16, .float16]) : self.types
        let indices = index.map { [$0] } ?? Array(0..<cases)
        var passed = 0, failed = 0
        for i in indices {
            let spec = KVCacheSpec.random(seed: seed, index: i, types: types)
            let check = KVCacheCheck(spec)
            let resident = (backend as? CUDABackend).flatMap { i % 2 == 1 ? $0 : nil }
            let path = resident == nil ? "" : " [device tensors]"
            var failures: [String]
            do {
                failures = try check.verify { arguments in
                    if let resident { try VerifyKVCache.runResident(arguments, backend: resident) } else { try backend.forwardWithKVCache(arguments) }
                }
            } catch {
                failures = ["threw: \(error)"]
            }
            if failures.isEmpty {
                passed += 1
                if verbose { print("#\(i) ok: \(spec)\(path)") }
            } else {
                failed += 1
                print("#\(i) FAILED: \(spec)\(path): " + failures.joined(separator: "; "))
            }
        }
        return (passed, failed, backend.name)
    }

    /// Runs a host-tensor call with every tensor copied to the backend's device first, then
    /// copies the outputs and caches back into the host views.
    static func runResident(_ arguments: KVCacheArguments, backend: CUDABackend) throws {
        let context = backend.context
        try context.makeCurrent()
        let stream = backend.stream
        var uploads: [CUDATensor] = []
        func upload(_ view: TensorView) throws -> TensorView {
            let tensor = try CUDATensor(shape: view.shape, elementType: view.elementType, context: context)
            try tensor.copy(from: view, stream: stream)
            uploads.append(tensor)
            return tensor.view
        }
        var device = arguments
        device.q = try upload(arguments.q)
        device.kCache = try upload(arguments.kCache)
        device.vCache = try upload(arguments.vCache)
        device.k = try arguments.k.map(upload)
        device.v = try arguments.v.map(upload)
        device.out = try upload(arguments.out)  // poisoned on the host: uploaded as NaN
        device.lse = try arguments.lse.map(upload)
        if let rotary = arguments.rotary {
            device.rotary = RotaryEmbedding(cos: try upload(rotary.cos), sin: try upload(rotary.sin), interleaved: rotary.interleaved)
        }
        try backend.forwardWithKVCache(device)
        try stream.synchronize()
        func download(_ deviceView: TensorView, into host: TensorView) throws {
            guard let tensor = uploads.first(where: { $0.view.data == deviceView.data }) else { return }
            try tensor.copy(to: host, stream: stream)
        }
        try download(device.out, into: arguments.out)
        if let lse = device.lse, let host = arguments.lse { try download(lse, into: host) }
        try download(device.kCache, into: arguments.kCache)
        try download(device.vCache, into: arguments.vCache)
    }
}
