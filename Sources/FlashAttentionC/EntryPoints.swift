import CFlashAttentionABI
import FlashAttention

// The attention entry points of flash_attention.h. Each converts descriptors to views,
// routes to the backend of q's device, and reports failures as a status plus the
// thread-local message (ABIStatus.run). Swift names differ from the C symbols so they do not
// collide with the header's declarations.

@_cdecl("fa_forward")
public func abiForward(
    _ q: UnsafePointer<fa_tensor>?, _ k: UnsafePointer<fa_tensor>?, _ v: UnsafePointer<fa_tensor>?,
    _ out: UnsafePointer<fa_tensor>?, _ softmaxLSE: UnsafePointer<fa_tensor>?,
    _ options: UnsafePointer<fa_options>?, _ stream: UnsafeMutableRawPointer?
) -> fa_status {
    ABIStatus.run {
        try runForward(q, k, v, out, softmaxLSE, varlen: nil, options, stream)
    }
}

@_cdecl("fa_backward")
public func abiBackward(
    _ dOut: UnsafePointer<fa_tensor>?, _ q: UnsafePointer<fa_tensor>?, _ k: UnsafePointer<fa_tensor>?,
    _ v: UnsafePointer<fa_tensor>?, _ out: UnsafePointer<fa_tensor>?, _ softmaxLSE: UnsafePointer<fa_tensor>?,
    _ dq: UnsafePointer<fa_tensor>?, _ dk: UnsafePointer<fa_tensor>?, _ dv: UnsafePointer<fa_tensor>?,
    _ options: UnsafePointer<fa_options>?, _ stream: UnsafeMutableRawPointer?
) -> fa_status {
    ABIStatus.run {
        try runBackward(dOut, q, k, v, out, softmaxLSE, dq, dk, dv, varlen: nil, options, stream)
    }
}

@_cdecl("fa_varlen_forward")
public func abiVarlenForward(
    _ q: UnsafePointer<fa_tensor>?, _ k: UnsafePointer<fa_tensor>?, _ v: UnsafePointer<fa_tensor>?,
    _ cuSeqlensQ: UnsafePointer<fa_tensor>?, _ cuSeqlensK: UnsafePointer<fa_tensor>?,
    _ maxSeqlenQ: Int64, _ maxSeqlenK: Int64,
    _ out: UnsafePointer<fa_tensor>?, _ softmaxLSE: UnsafePointer<fa_tensor>?,
    _ options: UnsafePointer<fa_options>?, _ stream: UnsafeMutableRawPointer?
) -> fa_status {
    ABIStatus.run {
        let varlen = try varlenLayout(cuSeqlensQ, cuSeqlensK, maxSeqlenQ, maxSeqlenK)
        try runForward(q, k, v, out, softmaxLSE, varlen: varlen, options, stream)
    }
}

@_cdecl("fa_varlen_backward")
public func abiVarlenBackward(
    _ dOut: UnsafePointer<fa_tensor>?, _ q: UnsafePointer<fa_tensor>?, _ k: UnsafePointer<fa_tensor>?,
    _ v: UnsafePointer<fa_tensor>?, _ out: UnsafePointer<fa_tensor>?, _ softmaxLSE: UnsafePointer<fa_tensor>?,
    _ cuSeqlensQ: UnsafePointer<fa_tensor>?, _ cuSeqlensK: UnsafePointer<fa_tensor>?,
    _ maxSeqlenQ: Int64, _ maxSeqlenK: Int64,
    _ dq: UnsafePointer<fa_tensor>?, _ dk: UnsafePointer<fa_tensor>?, _ dv: UnsafePointer<fa_tensor>?,
    _ options: UnsafePointer<fa_options>?, _ stream: UnsafeMutableRawPointer?
) -> fa_status {
    ABIStatus.run {
        let varlen = try varlenLayout(cuSeqlensQ, cuSeqlensK, maxSeqlenQ, maxSeqlenK)
        try runBackward(dOut, q, k, v, out, softmaxLSE, dq, dk, dv, varlen: varlen, options, stream)
    }
}

@_cdecl("fa_dropout_keep_mask")
public func abiDropoutKeepMask(
    _ seed: UInt64, _ probability: Float, _ batch: Int64, _ head: Int64,
    _ rows: Int64, _ columns: Int64, _ keep: UnsafeMutablePointer<UInt8>?, _ rowStride: Int64
) -> fa_status {
    ABIStatus.run {
        guard probability >= 0, probability < 1 else {
            throw FlashAttentionError.invalidArgument(name: "dropout_p", expected: "a probability in [0, 1), got \(probability)")
        }
        guard batch >= 0, head >= 0, batch <= Int64(UInt32.max), head <= Int64(UInt32.max) else {
            throw FlashAttentionError.invalidArgument(name: "batch", expected: "batch and head indices in 0 ... 2^32 - 1")
        }
        guard rows >= 0, columns >= 0 else {
            throw FlashAttentionError.invalidArgument(name: "rows", expected: "non-negative rows and cols, got \(rows) × \(columns)")
        }
        guard rows > 0, columns > 0 else { return }
        guard let keep else { throw FlashAttentionError.invalidArgument(name: "keep", expected: "a non-NULL output pointer") }
        guard rowStride >= columns else {
            throw FlashAttentionError.invalidArgument(name: "row_stride", expected: "≥ cols (\(columns)), got \(rowStride)")
        }
        guard !(rows - 1).multipliedReportingOverflow(by: rowStride).overflow else {
            throw FlashAttentionError.invalidArgument(name: "row_stride", expected: "rows × row_stride that fits in 64 bits")
        }
        let mask = DropoutMask(Dropout(probability: probability, seed: seed))
        let key = mask.streamKey(batch: Int(batch), head: Int(head))
        for row in 0..<Int(rows) {
            let base = keep + row * Int(rowStride)
            for column in 0..<Int(columns) {
                base[column] = mask.keep(streamKey: key, row: row, column: column) ? 1 : 0
            }
        }
    }
}

// MARK: - Shared bodies

private func varlenLayout(
    _ cuSeqlensQ: UnsafePointer<fa_tensor>?, _ cuSeqlensK: UnsafePointer<fa_tensor>?,
    _ maxSeqlenQ: Int64, _ maxSeqlenK: Int64
) throws -> VarlenLayout {
    let offsetsQ = try TensorDescriptor.offsets(cuSeqlensQ, name: "cu_seqlens_q")
    let offsetsK = try TensorDescriptor.offsets(cuSeqlensK, name: "cu_seqlens_k")
    guard maxSeqlenQ >= -1 else { throw FlashAttentionError.invalidArgument(name: "max_seqlen_q", expected: "≥ 0, or -1 to compute it, got \(maxSeqlenQ)") }
    guard maxSeqlenK >= -1 else { throw FlashAttentionError.invalidArgument(name: "max_seqlen_k", expected: "≥ 0, or -1 to compute it, got \(maxSeqlenK)") }
    return VarlenLayout(
        cuSeqlensQ: offsetsQ, cuSeqlensK: offsetsK,
        maxSeqlenQ: maxSeqlenQ < 0 ? nil : Int(maxSeqlenQ), maxSeqlenK: maxSeqlenK < 0 ? nil : Int(maxSeqlenK))
}

private func runForward(
    _ q: UnsafePointer<fa_tensor>?, _ k: UnsafePointer<fa_tensor>?, _ v: UnsafePointer<fa_tensor>?,
    _ out: UnsafePointer<fa_tensor>?, _ softmaxLSE: UnsafePointer<fa_tensor>?, varlen: VarlenLayout?,
    _ options: UnsafePointer<fa_options>?, _ stream: UnsafeMutableRawPointer?
) throws {
    let qView = try TensorDescriptor.view(q, name: "q")
    let parsed = try OptionsDescriptor(options, device: qView.device)
    let arguments = ForwardArguments(
        q: qView,
        k: try TensorDescriptor.view(k, name: "k"),
        v: try TensorDescriptor.view(v, name: "v"),
        out: try TensorDescriptor.view(out, name: "out"),
        lse: try TensorDescriptor.optionalView(softmaxLSE, name: "softmax_lse"),
        options: parsed.options,
        varlen: varlen)
    try BackendRouting.backend(for: qView.device, stream: stream, threads: parsed.threads).forward(arguments)
}

private func runBackward(
    _ dOut: UnsafePointer<fa_tensor>?, _ q: UnsafePointer<fa_tensor>?, _ k: UnsafePointer<fa_tensor>?,
    _ v: UnsafePointer<fa_tensor>?, _ out: UnsafePointer<fa_tensor>?, _ softmaxLSE: UnsafePointer<fa_tensor>?,
    _ dq: UnsafePointer<fa_tensor>?, _ dk: UnsafePointer<fa_tensor>?, _ dv: UnsafePointer<fa_tensor>?,
    varlen: VarlenLayout?, _ options: UnsafePointer<fa_options>?, _ stream: UnsafeMutableRawPointer?
) throws {
    let qView = try TensorDescriptor.view(q, name: "q")
    let parsed = try OptionsDescriptor(options, device: qView.device)
    let arguments = BackwardArguments(
        dOut: try TensorDescriptor.view(dOut, name: "dout"),
        q: qView,
        k: try TensorDescriptor.view(k, name: "k"),
        v: try TensorDescriptor.view(v, name: "v"),
        out: try TensorDescriptor.view(out, name: "out"),
        lse: try TensorDescriptor.view(softmaxLSE, name: "softmax_lse"),
        dq: try TensorDescriptor.view(dq, name: "dq"),
        dk: try TensorDescriptor.view(dk, name: "dk"),
        dv: try TensorDescriptor.view(dv, name: "dv"),
        options: parsed.options,
        varlen: varlen)
    try BackendRouting.backend(for: qView.device, stream: stream, threads: parsed.threads).backward(arguments)
}
