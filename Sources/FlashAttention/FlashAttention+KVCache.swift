import FlashAttentionCPU
import FlashAttentionCUDA

extension FlashAttention {
    /// The backend that runs KV-cache calls for a device selection.
    ///
    /// `.cuda` needs a CUDA backend that implements ``KVCacheBackend`` (its decode kernels);
    /// until one does, it is refused as unsupported. `.auto` takes the GPU when that backend is
    /// usable and does, else the CPU.
    public static func kvCacheBackend(for device: DeviceSelection, threads: Int? = nil) throws -> any KVCacheBackend {
        let cpu = CPUBackend(threads: threads)
        switch device {
        case .cpu:
            return cpu
        case .cuda:
            guard let gpu = try backend(for: .cuda, threads: threads) as? any KVCacheBackend else {
                throw FlashAttentionError.unsupported("attention with a KV cache on CUDA (the CUDA decode kernels have not landed)")
            }
            return gpu
        case .auto:
            guard CUDABackend.isAvailable, let gpu = try? backend(for: .cuda, threads: threads) as? any KVCacheBackend else {
                return cpu
            }
            return gpu
        }
    }

    /// Attention over a KV cache on caller-owned views (the reference library's
    /// `flash_attn_with_kvcache`): appends `k`/`v` into the cache in place, then writes `out`
    /// and `lse`. See ``KVCacheArguments`` for the semantics.
    public static func forwardWithKVCache(_ arguments: KVCacheArguments, device: DeviceSelection = .cpu) throws {
        try kvCacheBackend(for: device).forwardWithKVCache(arguments)
    }

    /// Attention over a KV cache held in owned host tensors. The caches are updated in place;
    /// returns the output (in q's element type) and the log-sum-exp (B, H, Sq) in float32.
    ///
    /// ```swift
    /// // One decoding step: append this token's k/v at position cacheSeqlens[b], attend.
    /// let (out, lse) = try FlashAttention.forwardWithKVCache(
    ///     q: q, kCache: kCache, vCache: vCache, k: k, v: v, cacheSeqlens: lengths,
    ///     options: AttentionOptions(causal: true))
    /// ```
    public static func forwardWithKVCache(
        q: Tensor, kCache: Tensor, vCache: Tensor, k: Tensor? = nil, v: Tensor? = nil, cacheSeqlens: [Int32],
        blockTable: BlockTable? = nil, rotaryCos: Tensor? = nil, rotarySin: Tensor? = nil, rotaryInterleaved: Bool = true,
        cacheBatchIndex: [Int32]? = nil, cacheLeftPad: [Int32]? = nil, options: AttentionOptions = AttentionOptions(),
        numSplits: Int = 0, device: DeviceSelection = .cpu
    ) throws -> (out: Tensor, lse: Tensor) {
        guard q.shape.count == 4 else {
            throw FlashAttentionError.invalidArgument(name: "q", expected: "rank 4 (batch, seqlen_q, heads, headdim), got rank \(q.shape.count)")
        }
        var rotary: RotaryEmbedding?
        switch (rotaryCos, rotarySin) {
        case (nil, nil): break
        case let (cos?, sin?): rotary = RotaryEmbedding(cos: cos.view, sin: sin.view, interleaved: rotaryInterleaved)
        case (nil, _): throw FlashAttentionError.invalidArgument(name: "rotary_cos", expected: "a cos table together with rotary_sin")
        case (_, nil): throw FlashAttentionError.invalidArgument(name: "rotary_sin", expected: "a sin table together with rotary_cos")
        }
        let out = Tensor(shape: q.shape, elementType: q.elementType)
        let lse = Tensor(shape: [q.shape[0], q.shape[2], q.shape[1]], elementType: .float32)
        let arguments = KVCacheArguments(
            q: q.view, kCache: kCache.view, vCache: vCache.view, k: k?.view, v: v?.view, cacheSeqlens: cacheSeqlens,
            blockTable: blockTable, rotary: rotary, cacheBatchIndex: cacheBatchIndex, cacheLeftPad: cacheLeftPad,
            out: out.view, lse: lse.view, options: options, numSplits: numSplits)
        try withExtendedLifetime((k, v, rotaryCos, rotarySin)) { try forwardWithKVCache(arguments, device: device) }
        return (out, lse)
    }
}
