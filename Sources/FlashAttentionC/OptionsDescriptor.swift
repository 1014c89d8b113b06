import CFlashAttentionABI
import FlashAttention

/// Reading a caller's `fa_options` into ``AttentionOptions``. Value checks (ranges, finiteness)
/// are left to the shared validation, so every front end reports them the same way.
struct OptionsDescriptor {
    var options: AttentionOptions
    /// CPU worker threads; nil is the backend's default.
    var threads: Int?

    /// - Parameter device: q's device; ALiBi slopes must live on it.
    init(_ pointer: UnsafePointer<fa_options>?, device: Device) throws {
        guard let pointer else {
            options = AttentionOptions()
            threads = nil
            return
        }
        // The size check catches a struct that fa_options_init never filled (or one from a
        // header older than this library's).
        let expectedSize = UInt32(MemoryLayout<fa_options>.size)
        guard pointer.pointee.struct_size >= expectedSize else {
            throw FlashAttentionError.invalidArgument(
                name: "options",
                expected: "an fa_options set up by fa_options_init (struct_size \(expectedSize)), got struct_size \(pointer.pointee.struct_size)")
        }
        let raw = pointer.pointee
        var options = AttentionOptions()
        options.softmaxScale = raw.has_softmax_scale != 0 ? raw.softmax_scale : nil
        options.causal = raw.causal != 0
        options.window = SlidingWindow(left: Int(raw.window_left), right: Int(raw.window_right))
        options.softcap = raw.softcap
        // Any nonzero value (NaN and out-of-range ones included) goes to validation, which
        // names dropout_p in its message.
        if raw.dropout_p != 0 { options.dropout = Dropout(probability: raw.dropout_p, seed: raw.seed) }
        options.deterministic = raw.deterministic != 0
        if let slopesPointer = raw.alibi_slopes {
            let slopes = try TensorDescriptor.view(slopesPointer, name: "alibi_slopes")
            guard slopes.device == device else {
                throw FlashAttentionError.invalidArgument(name: "alibi_slopes", expected: "a tensor on q's device \(device), got \(slopes.device)")
            }
            options.alibi = ALiBi(slopes: slopes)
        }
        guard raw.num_threads >= 0 else {
            throw FlashAttentionError.invalidArgument(name: "num_threads", expected: "≥ 0 (0 is every core), got \(raw.num_threads)")
        }
        self.options = options
        threads = raw.num_threads > 0 ? Int(raw.num_threads) : nil
    }
}
