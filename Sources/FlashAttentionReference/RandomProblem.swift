import FlashAttentionCore

#if canImport(Glibc)
import Glibc
#endif

/// A ``ProblemSpec`` made concrete: owned host memory for every tensor of a forward and a
/// backward call, laid out with the spec's stride patterns, inputs filled with seeded random
/// values rounded to the element type.
///
/// Values are drawn in logical (row-major) order, so the same spec with different stride
/// patterns holds the same numbers. Outputs start zeroed; ``poison(_:)`` fills their whole
/// storage (padding included) with 0xFF bytes, which decode as NaN in every element type.
public final class RandomProblem: @unchecked Sendable {
    public let spec: ProblemSpec
    /// The allocation behind each view (padding included), flat.
    public let storage: [TensorRole: Tensor]
    public let views: [TensorRole: TensorView]
    /// The storage of the ALiBi slopes, float32; ``options`` holds the (H) or (B, H) view.
    public let slopes: Tensor?
    private let slopesView: TensorView?
    public let options: AttentionOptions
    public let varlen: VarlenLayout?

    public init(_ spec: ProblemSpec) {
        self.spec = spec
        let varlen = spec.varlen?.layout
        self.varlen = varlen
        var storage = [TensorRole: Tensor](), views = [TensorRole: TensorView]()
        for role in TensorRole.allCases {
            let shape = RandomProblem.logicalShape(role, spec: spec, varlen: varlen)
            let type: ElementType
            switch role {
            case .lse: type = .float32
            case .q, .k, .v, .dOut: type = spec.elementType
            case .out, .dq, .dk, .dv: type = spec.outputType
            }
            let (tensor, view) = RandomProblem.allocate(shape: shape, type: type, pattern: spec.stridePattern(role), isLSE: role == .lse)
            storage[role] = tensor
            views[role] = view
        }
        for role in [TensorRole.q, .k, .v, .dOut] {
            var rng = SeededRandom(seed: SeededRandom.derive(spec.valueSeed, UInt64(role.rawValue)))
            let shift = spec.distribution == .shifted && (role == .q || role == .k) ? 1.5 : 0.0
            let view = views[role]!
            for offset in RandomProblem.logicalOffsets(view) {
                let value: Double
                switch spec.distribution {
                case .normal, .shifted: value = rng.normal() + shift
                case .uniform: value = rng.uniform(-1, 1)
                }
                view.store(Float(value), at: offset)
            }
        }
        self.storage = storage
        self.views = views
        if let shape = spec.alibi {
            var rng = SeededRandom(seed: SeededRandom.derive(spec.valueSeed, 100))
            let rows = shape == .heads ? 1 : spec.batch
            var values = [Float]()
            for _ in 0..<rows {
                for h in 0..<spec.heads {
                    // The usual geometric slopes 2^(−8(h+1)/H), jittered so heads and batch
                    // entries differ.
                    let base = exp2(-8 * Double(h + 1) / Double(spec.heads))
                    values.append(Float(base * rng.uniform(0.5, 1.5)))
                }
            }
            let logical = shape == .heads ? [spec.heads] : [spec.batch, spec.heads]
            // Strided problems get strided slopes too: (H) every other element, (B, H) stored
            // as (H, B) and viewed transposed.
            let strided = spec.strides.contains { $0 != .contiguous }
            let pattern: StridePattern = !strided ? .contiguous : (shape == .heads ? .spacedDims : .transposed)
            let (tensor, view) = RandomProblem.allocate(shape: logical, type: .float32, pattern: pattern, isLSE: true)
            RandomProblem.write(values.map(Double.init), to: view)
            slopes = tensor
            slopesView = view
        } else {
            slopes = nil
            slopesView = nil
        }
        options = spec.options(slopes: slopesView)
    }

    public subscript(_ role: TensorRole) -> TensorView { views[role]! }

    public var forwardArguments: ForwardArguments {
        ForwardArguments(q: self[.q], k: self[.k], v: self[.v], out: self[.out], lse: spec.requestLSE ? self[.lse] : nil,
                         options: options, varlen: varlen)
    }

    public var backwardArguments: BackwardArguments {
        BackwardArguments(dOut: self[.dOut], q: self[.q], k: self[.k], v: self[.v], out: self[.out], lse: self[.lse],
                          dq: self[.dq], dk: self[.dk], dv: self[.dv], options: options, varlen: varlen)
    }

    /// Fills the whole storage of these tensors (padding included) with 0xFF bytes.
    public func poison(_ roles: [TensorRole]) {
        for role in roles { storage[role]!.poison() }
    }

    /// (B, S, H, D) / (total, H, D) for sequence tensors, (B, H, Sq) / (H, totalQ) for the LSE.
    static func logicalShape(_ role: TensorRole, spec: ProblemSpec, varlen: VarlenLayout?) -> [Int] {
        let totalQ = varlen?.cuSeqlensQ.last ?? 0, totalK = varlen?.cuSeqlensK.last ?? 0
        if role == .lse {
            return varlen == nil ? [spec.batch, spec.heads, spec.seqlenQ] : [spec.heads, totalQ]
        }
        let heads = role.isKeyShaped ? spec.kvHeads : spec.heads
        if varlen != nil { return [role.isKeyShaped ? totalK : totalQ, heads, spec.headDim] }
        return [spec.batch, role.isKeyShaped ? spec.seqlenK : spec.seqlenQ, heads, spec.headDim]
    }

    /// Allocates flat storage for a view of `shape` placed by `pattern`.
    static func allocate(shape: [Int], type: ElementType, pattern: StridePattern, isLSE: Bool) -> (Tensor, TensorView) {
        let rank = shape.count
        // Sequence tensors: (…, seq, head, dim), the last three axes (or all three for varlen).
        // LSE: (…, head, seq) with the sequence innermost.
        var order = Array(0..<rank)  // physical order, outermost first
        var padding = [Int](repeating: 0, count: rank)
        var start = [Int](repeating: 0, count: rank)
        var step = 1
        switch pattern {
        case .contiguous:
            break
        case .transposed:
            if rank >= 2 {
                // Sequence tensors swap seq and head (axes rank−3, rank−2); the LSE its last two.
                let (a, b) = isLSE ? (rank - 2, rank - 1) : (rank - 3, rank - 2)
                if a >= 0 { order.swapAt(a, b) }
            }
        case .slicedHeads:
            if isLSE {
                padding[rank - 1] = 5
                start[rank - 1] = 2
            } else {
                padding[rank - 2] = 3
                start[rank - 2] = 1
            }
        case .paddedRows:
            for axis in 0..<rank { padding[axis] = axis == rank - 1 ? 3 : 1 }
        case .spacedDims:
            step = 2
        }
        var strides = [Int](repeating: 0, count: rank)
        var running = step
        for axis in order.reversed() {
            strides[axis] = running
            running *= shape[axis] + padding[axis]
        }
        let count = max(running, 1)
        let base = zip(start, strides).reduce(0) { $0 + $1.0 * $1.1 }
        let tensor = Tensor(shape: [count], elementType: type)
        let view = TensorView(data: tensor.storage.baseAddress! + base * type.byteCount, elementType: type, shape: shape, strides: strides)
        return (tensor, view)
    }

    /// The element offsets of a view in row-major order of its logical index: the order of
    /// the reference's dense result arrays.
    public static func logicalOffsets(_ view: TensorView) -> [Int] {
        let count = view.elementCount
        guard count > 0 else { return [] }
        var offsets = [Int]()
        offsets.reserveCapacity(count)
        var index = [Int](repeating: 0, count: view.rank)
        var offset = 0
        for _ in 0..<count {
            offsets.append(offset)
            var axis = view.rank - 1
            while axis >= 0 {
                index[axis] += 1
                offset += view.strides[axis]
                if index[axis] < view.shape[axis] { break }
                offset -= view.strides[axis] * index[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return offsets
    }

    /// The view's elements in row-major logical order, as float64.
    public static func read(_ view: TensorView) -> [Double] {
        logicalOffsets(view).map { Double(view.load(at: $0)) }
    }

    /// Stores values given in row-major logical order (rounded to the view's type).
    public static func write(_ values: [Double], to view: TensorView) {
        for (value, offset) in zip(values, logicalOffsets(view)) { view.store(Float(value), at: offset) }
    }
}
