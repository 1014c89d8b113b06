@_exported import FlashAttentionCore
import FlashAttentionCPU
import FlashAttentionCUDA

/// Which backend runs a call.
public enum DeviceSelection: String, Sendable, CaseIterable {
    case cpu
    case cuda
    /// The GPU where one is usable, else the CPU.
    case auto
}

/// Exact attention with the reference FlashAttention library's semantics.
///
/// ```swift
/// let q = try Tensor(shape: [1, 128, 8, 64], elementType: .bfloat16, values: ...)
/// let (out, lse) = try FlashAttention.forward(q: q, k: k, v: v, options: .init(causal: true))
/// ```
public enum FlashAttention {
    /// The backend for a device selection.
    public static func backend(for device: DeviceSelection, threads: Int? = nil) throws -> any AttentionBackend {
        switch device {
        case .cpu: return CPUBackend(threads: threads)
        case .cuda: return try CUDABackend()
        case .auto:
            // The GPU when one is usable; float32 and backward calls on host tensors go to the CPU.
            let cpu = CPUBackend(threads: threads)
            guard CUDABackend.isAvailable else { return cpu }
            return (try? CUDABackend(fallback: cpu)) ?? cpu
        }
    }

    /// Forward on caller-owned views: writes `arguments.out` and `arguments.lse`.
    public static func forward(_ arguments: ForwardArguments, device: DeviceSelection = .cpu) throws {
        try backend(for: device).forward(arguments)
    }

    /// Backward on caller-owned views: writes `arguments.dq`, `dk` and `dv`.
    public static func backward(_ arguments: BackwardArguments, device: DeviceSelection = .cpu) throws {
        try backend(for: device).backward(arguments)
    }

    /// Forward on owned host tensors. Returns the output (in q's element type) and the
    /// log-sum-exp (B, H, Sq) in float32.
    public static func forward(
        q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = AttentionOptions(),
        device: DeviceSelection = .cpu
    ) throws -> (out: Tensor, lse: Tensor) {
        guard q.shape.count == 4 else {
            throw FlashAttentionError.invalidArgument(name: "q", expected: "rank 4 (batch, seqlen, heads, headdim), got rank \(q.shape.count)")
        }
        let out = Tensor(shape: q.shape, elementType: q.elementType)
        let lse = Tensor(shape: [q.shape[0], q.shape[2], q.shape[1]], elementType: .float32)
        try forward(ForwardArguments(q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view, options: options), device: device)
        return (out, lse)
    }

    /// Backward on owned host tensors: (dq, dk, dv) in the inputs' element type.
    public static func backward(
        dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
        options: AttentionOptions = AttentionOptions(), device: DeviceSelection = .cpu
    ) throws -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        let dq = Tensor(shape: q.shape, elementType: q.elementType)
        let dk = Tensor(shape: k.shape, elementType: k.elementType)
        let dv = Tensor(shape: v.shape, elementType: v.elementType)
        try backward(BackwardArguments(dOut: dOut.view, q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
                                       dq: dq.view, dk: dk.view, dv: dv.view, options: options), device: device)
        return (dq, dk, dv)
    }
}
