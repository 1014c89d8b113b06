import CFlashAttentionABI
import FlashAttention

// fa_kvcache_forward: the reference library's flash_attn_with_kvcache over the C ABI. The
// descriptors become a KVCacheArguments (index tensors read on the host), which the backend of
// q's device validates and runs; see flash_attention.h for the contract.

@_cdecl("fa_kvcache_forward")
public func abiKVCacheForward(
    _ q: UnsafePointer<fa_tensor>?, _ kCache: UnsafePointer<fa_tensor>?, _ vCache: UnsafePointer<fa_tensor>?,
    _ k: UnsafePointer<fa_tensor>?, _ v: UnsafePointer<fa_tensor>?,
    _ rotaryCos: UnsafePointer<fa_tensor>?, _ rotarySin: UnsafePointer<fa_tensor>?, _ rotaryInterleaved: Int32,
    _ cacheSeqlens: UnsafePointer<fa_tensor>?, _ cacheBatchIndex: UnsafePointer<fa_tensor>?,
    _ cacheLeftPad: UnsafePointer<fa_tensor>?, _ blockTable: UnsafePointer<fa_tensor>?,
    _ numSplits: Int32,
    _ out: UnsafePointer<fa_tensor>?, _ softmaxLSE: UnsafePointer<fa_tensor>?,
    _ options: UnsafePointer<fa_options>?, _ stream: UnsafeMutableRawPointer?
) -> fa_status {
    ABIStatus.run {
        let qView = try TensorDescriptor.view(q, name: "q")
        let parsed = try OptionsDescriptor(options, device: qView.device)
        var rotary: RotaryEmbedding?
        switch (rotaryCos, rotarySin) {
        case (nil, nil): break
        case let (cos?, sin?):
            rotary = RotaryEmbedding(cos: try TensorDescriptor.view(cos, name: "rotary_cos"),
                                     sin: try TensorDescriptor.view(sin, name: "rotary_sin"),
                                     interleaved: rotaryInterleaved != 0)
        case (nil, _): throw FlashAttentionError.invalidArgument(name: "rotary_cos", expected: "a cos table together with rotary_sin")
        case (_, nil): throw FlashAttentionError.invalidArgument(name: "rotary_sin", expected: "a sin table together with rotary_cos")
        }
        guard let lengths = try indices(cacheSeqlens, name: "cache_seqlens") else {
            throw FlashAttentionError.invalidArgument(name: "cache_seqlens", expected: "a non-NULL (batch) tensor of cache lengths")
        }
        var table: BlockTable?
        if blockTable != nil {
            let (shape, entries) = try TensorDescriptor.integers(blockTable, name: "block_table", rank: 2, form: "(batch, max_blocks)")
            table = BlockTable(entries: try int32(entries, name: "block_table"), maxBlocksPerSequence: shape[1])
        }
        let arguments = KVCacheArguments(
            q: qView,
            kCache: try TensorDescriptor.view(kCache, name: "k_cache"),
            vCache: try TensorDescriptor.view(vCache, name: "v_cache"),
            k: try TensorDescriptor.optionalView(k, name: "k"),
            v: try TensorDescriptor.optionalView(v, name: "v"),
            cacheSeqlens: lengths,
            blockTable: table,
            rotary: rotary,
            cacheBatchIndex: try indices(cacheBatchIndex, name: "cache_batch_idx"),
            cacheLeftPad: try indices(cacheLeftPad, name: "cache_leftpad"),
            out: try TensorDescriptor.view(out, name: "out"),
            lse: try TensorDescriptor.optionalView(softmaxLSE, name: "softmax_lse"),
            options: parsed.options,
            numSplits: Int(numSplits))
        try BackendRouting.kvCacheBackend(for: qView.device, stream: stream, threads: parsed.threads)
            .forwardWithKVCache(arguments)
    }
}

/// A per-batch-row index tensor (rank 1), or nil for a NULL pointer.
private func indices(_ pointer: UnsafePointer<fa_tensor>?, name: String) throws -> [Int32]? {
    guard pointer != nil else { return nil }
    return try int32(TensorDescriptor.integers(pointer, name: name, rank: 1, form: "(batch)").values, name: name)
}

/// The values as Int32 (what the Swift API and the reference library use for indices); an
/// int64 value outside that range is an argument error, never a silent wrap.
private func int32(_ values: [Int], name: String) throws -> [Int32] {
    try values.enumerated().map { index, value in
        guard let narrow = Int32(exactly: value) else {
            throw FlashAttentionError.invalidArgument(name: name, expected: "values that fit in int32, got \(value) at \(index)")
        }
        return narrow
    }
}
