import FlashAttentionCore

/// The verdict on one output tensor of one case.
public struct OutputCheck: Sendable, CustomStringConvertible {
    /// "out", "lse", "dq", "dk" or "dv".
    public var name: String
    /// Norm-wise relative error against the float64 reference (see ``ErrorMetrics``).
    public var error: Double
    public var budget: Double
    /// The error of naive attention in the element type, where it was computed.
    public var naiveError: Double?
    /// Elements still holding the poison pattern after the call.
    public var unwritten: Int
    /// Elements of the padding around the view that the call overwrote.
    public var strayWrites: Int
    public var nanCount: Int
    /// Everything wrong with this output; empty when it passed.
    public var issues: [String]
    /// Remarks that do not fail the check (a raised budget).
    public var notes: [String] = []

    public var passed: Bool { issues.isEmpty }

    public var description: String {
        var text = "\(name) \(formatError(error))/\(formatError(budget))"
        if let naiveError { text += " (naive \(formatError(naiveError)))" }
        if !(issues + notes).isEmpty { text += " [" + (issues + notes).joined(separator: "; ") + "]" }
        return text
    }
}

/// The verdict on one case: every output's check plus case-level failures (a backend that
/// threw, inputs that changed).
public struct VerificationResult: Sendable, CustomStringConvertible {
    public var spec: ProblemSpec
    public var checks: [OutputCheck] = []
    public var failures: [String] = []
    /// The backend threw ``FlashAttentionError/unsupported(_:)``: still a failure.
    public var unsupported = false
    /// Seconds spent in the backend's forward and backward calls.
    public var backendSeconds = 0.0

    public var passed: Bool { failures.isEmpty && checks.allSatisfy(\.passed) }

    public var description: String {
        (passed ? "PASS " : "FAIL ") + spec.description + " | "
            + (failures + checks.map(\.description)).joined(separator: " | ")
    }
}

/// Runs cases on a backend and judges them against the float64 reference.
///
/// For each case: the forward (out and, when requested, LSE) runs on poisoned outputs; then
/// the backward runs on poisoned gradients, given dO and the reference's out and LSE (rounded
/// to their storage), so a forward bug does not masquerade as a backward one. Every output must
/// be fully written, stay inside its view, hold no NaN, and be within budget:
///
/// - float32 inputs: relative error ≤ ``float32Budget`` (1e-5). If a problem is so
///   ill-conditioned that naive float32 attention itself uses more than half of that, the
///   budget becomes twice that naive error, and the check notes it. This happens with scores
///   of magnitude ~100 (every float32 score then carries an absolute error ~1e-5, which P
///   inherits) and with saturated softcaps (1 − tanh² cancels); for the backward the naive
///   model takes P from the float32 LSE and D from the stored out, as a fused backward must.
/// - float16/bfloat16 inputs: ≤ ``halfFactor`` (2) × the error of ``NaiveAttention`` in that
///   precision, + ``absoluteFloor``. The naive error is taken as at least the error of
///   rounding the exact result to the output's storage type, and at least half its unit
///   roundoff: no implementation that stores its result can be expected to beat that, and on
///   tiny problems (a handful of elements) a naive run can be exact by luck while a correct
///   float32 computation lands on the other side of a rounding midpoint. For dq and dk it is
///   at least a whole unit roundoff: D = rowsum(dO∘O) reads the stored out, whose rounding
///   shifts every dP − D by up to that much (relative to the uncancelled size below); where
///   each row sees one key under dropout, that is all there is.
/// - ``absoluteFloor`` = 1e-5, the float32 standard: a backend accumulates in float32 and is
///   not asked to beat float32 rounding where the naive half-precision result happens to be
///   exact (a row that sees one key returns v itself, and its dq is exactly 0). It is one to two
///   orders of magnitude below any half-precision error, so it hides no half-precision bug.
///
/// The relative errors of dq and dk are measured against max(‖ref‖, ρ/2), where ρ is the
/// size the gradient would have without the cancellation in dP − D (see
/// ``ErrorMetrics/relativeError(_:reference:scale:)``): when every row sees one key, dq and
/// dk are exactly 0 and any float32 computation of dP − D leaves rounding noise. For
/// ordinary problems ρ/2 < ‖ref‖ and the error is the plain norm-wise relative error.
///
/// Rows that see no key must give out exactly 0 and LSE exactly +∞; their dq rows, and the
/// dk/dv rows of keys no query sees, must be exactly 0. The inputs must not change.
///
/// Tensors are host memory. A backend that needs device memory can be wrapped in an
/// ``AttentionBackend`` that copies views to the device and results back.
public struct Verifier: Sendable {
    public var backend: any AttentionBackend
    public var float32Budget = 1e-5
    public var halfFactor = 2.0
    public var absoluteFloor = 1e-5

    public init(backend: any AttentionBackend) { self.backend = backend }

    public func verify(_ spec: ProblemSpec, backward: Bool = true) -> VerificationResult {
        verify(RandomProblem(spec), backward: backward)
    }

    public func verify(_ problem: RandomProblem, backward: Bool = true) -> VerificationResult {
        var result = VerificationResult(spec: problem.spec)
        let layout: AttentionLayout
        let reference: ReferenceAttention.Forward
        do {
            layout = try problem.backwardArguments.validate(maxHeadDim: .max)
            reference = try ReferenceAttention.forward(problem.forwardArguments)
        } catch {
            result.failures.append("the problem itself is invalid: \(error)")
            return result
        }
        let geometry = EmptyRows(problem: problem, layout: layout, lse: reference.lse)
        verifyForward(problem, reference: reference, geometry: geometry, into: &result)
        if backward { verifyBackward(problem, reference: reference, geometry: geometry, into: &result) }
        return result
    }

    // MARK: - Forward

    private func verifyForward(_ problem: RandomProblem, reference: ReferenceAttention.Forward, geometry: EmptyRows,
                               into result: inout VerificationResult) {
        let spec = problem.spec
        problem.poison([.out, .lse])
        let inputs: [TensorRole] = [.q, .k, .v]
        let before = snapshot(problem, inputs)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try backend.forward(problem.forwardArguments)
        } catch {
            result.failures.append("forward threw: \(error)")
            if case .unsupported = error as? FlashAttentionError { result.unsupported = true }
            return
        }
        result.backendSeconds += seconds(clock.now - start)
        checkUnchanged(problem, inputs, before, call: "forward", into: &result)
        var naive: ReferenceAttention.Forward?
        func naiveForward(_ precision: ElementType) -> ReferenceAttention.Forward? {
            try? NaiveAttention(precision: precision).forward(problem.forwardArguments)
        }
        if spec.elementType != .float32 { naive = naiveForward(spec.elementType) }

        var out = check(problem, .out, reference: reference.out, naive: naive?.out, type: spec.outputType) {
            naiveForward(.float32)?.out
        }
        let values = RandomProblem.read(problem[.out])
        let nonzero = geometry.emptyRowOutOffsets.filter { values[$0] != 0 }.count
        if nonzero > 0 { out.issues.append("\(nonzero) elements of rows that see no key are not 0") }
        result.checks.append(out)

        guard spec.requestLSE else { return }
        var lse = check(problem, .lse, reference: reference.lse, naive: naive?.lse, type: .float32) {
            naiveForward(.float32)?.lse
        }
        let lseValues = RandomProblem.read(problem[.lse])
        let notInfinite = geometry.emptyRowLSEOffsets.filter { lseValues[$0] != .infinity }.count
        if notInfinite > 0 { lse.issues.append("\(notInfinite) LSE entries of rows that see no key are not +inf") }
        let infinite = zip(lseValues, reference.lse).filter { $1.isFinite && !$0.isFinite }.count
        if infinite > 0 { lse.issues.append("\(infinite) LSE entries are not finite where the row sees keys") }
        result.checks.append(lse)
    }

    // MARK: - Backward

    private func verifyBackward(_ problem: RandomProblem, reference: ReferenceAttention.Forward, geometry: EmptyRows,
                                into result: inout VerificationResult) {
        let spec = problem.spec
        let gradients: ReferenceAttention.Gradients
        let dqScale: Double, dkScale: Double
        do {
            (gradients, dqScale, dkScale) = ReferenceAttention.backwardWithScales(try GatheredProblem(problem.backwardArguments))
        } catch {
            result.failures.append("reference backward failed: \(error)")
            return
        }
        // The forward's outputs as the backward's inputs: the reference, in their storage.
        RandomProblem.write(reference.out, to: problem[.out])
        RandomProblem.write(reference.lse, to: problem[.lse])
        problem.poison([.dq, .dk, .dv])
        let inputs: [TensorRole] = [.q, .k, .v, .dOut, .out, .lse]
        let before = snapshot(problem, inputs)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try backend.backward(problem.backwardArguments)
        } catch {
            result.failures.append("backward threw: \(error)")
            if case .unsupported = error as? FlashAttentionError { result.unsupported = true }
            return
        }
        result.backendSeconds += seconds(clock.now - start)
        checkUnchanged(problem, inputs, before, call: "backward", into: &result)
        func naiveBackward(_ precision: ElementType) -> ReferenceAttention.Gradients? {
            try? NaiveAttention(precision: precision).backward(problem.backwardArguments, usingForwardOutputs: precision == .float32)
        }
        let naive = spec.elementType == .float32 ? nil : naiveBackward(spec.elementType)
        // Lazily computed once if a float32 gradient misses 1e-5 (for the conditioning check).
        var naive32: ReferenceAttention.Gradients??
        func lazyNaive32() -> ReferenceAttention.Gradients? {
            if naive32 == nil { naive32 = .some(naiveBackward(.float32)) }
            return naive32!
        }
        let parts: [(TensorRole, [Double], [Double]?, Double, [Int], KeyPath<ReferenceAttention.Gradients, [Double]>)] = [
            (.dq, gradients.dq, naive?.dq, dqScale / 2, geometry.emptyRowOutOffsets, \.dq),
            (.dk, gradients.dk, naive?.dk, dkScale / 2, geometry.unseenKeyOffsets, \.dk),
            (.dv, gradients.dv, naive?.dv, 0, geometry.unseenKeyOffsets, \.dv),
        ]
        for (role, ref, naiveValues, scale, mustBeZero, path) in parts {
            // dq and dk also inherit the rounding of the stored out through D = rowsum(dO∘O):
            // up to a unit roundoff of its type, relative to the uncancelled size.
            let least = role == .dv ? 0.5 : 1.0
            var item = check(problem, role, reference: ref, naive: naiveValues, type: spec.outputType, scale: scale,
                             leastRounding: least) {
                lazyNaive32()?[keyPath: path]
            }
            let values = RandomProblem.read(problem[role])
            let nonzero = mustBeZero.filter { values[$0] != 0 }.count
            if nonzero > 0 {
                item.issues.append("\(nonzero) elements are not 0 though nothing contributes to them"
                    + (role == .dq ? " (rows that see no key)" : " (keys no query sees)"))
            }
            result.checks.append(item)
        }
    }

    // MARK: - Shared checks

    /// Written, inside its view, no NaN, within budget.
    private func check(_ problem: RandomProblem, _ role: TensorRole, reference: [Double], naive: [Double]?,
                       type: ElementType, scale: Double = 0, leastRounding: Double = 0.5,
                       naive32: () -> [Double]?) -> OutputCheck {
        let view = problem[role]
        let unwritten = PoisonCheck.unwrittenCount(view)
        let stray = PoisonCheck.strayWriteCount(storage: problem.storage[role]!, view: view)
        let values = RandomProblem.read(view)
        // Poisoned elements read as NaN; count only NaNs the backend wrote.
        let nans = max(ErrorMetrics.nanCount(values) - unwritten, 0)
        let error = ErrorMetrics.relativeError(values, reference: reference, scale: scale)
        var item = OutputCheck(name: role.description, error: error, budget: 0, naiveError: nil, unwritten: unwritten,
                               strayWrites: stray, nanCount: nans, issues: [])
        if problem.spec.elementType == .float32 {
            item.budget = float32Budget
            if !(error <= item.budget), error.isFinite, let naive = naive32() {
                let naiveError = ErrorMetrics.relativeError(naive, reference: reference, scale: scale)
                item.naiveError = naiveError
                if halfFactor * naiveError > float32Budget {
                    item.budget = halfFactor * naiveError
                    item.notes.append("ill-conditioned: budget raised to twice the naive float32 error")
                }
            }
        } else {
            let naiveError = naive.map { ErrorMetrics.relativeError($0, reference: reference, scale: scale) } ?? .infinity
            item.naiveError = naiveError
            let rounding = max(ErrorMetrics.storeRoundingError(reference, to: type, scale: scale), type.unitRoundoff * leastRounding)
            item.budget = halfFactor * max(naiveError, rounding) + absoluteFloor
        }
        if unwritten > 0 { item.issues.append("\(unwritten) of \(values.count) elements never written") }
        if stray > 0 { item.issues.append("\(stray) elements written outside the view") }
        if nans > 0 { item.issues.append("\(nans) NaN") }
        if error.isNaN {
            if unwritten == 0 && nans == 0 { item.issues.append("non-finite values") }
        } else if !(error <= item.budget) {
            item.issues.append("error \(formatError(error)) over budget \(formatError(item.budget))")
        }
        return item
    }

    private func snapshot(_ problem: RandomProblem, _ roles: [TensorRole]) -> [[UInt8]] {
        roles.map { Array(problem.storage[$0]!.storage) }
    }

    private func checkUnchanged(_ problem: RandomProblem, _ roles: [TensorRole], _ before: [[UInt8]], call: String,
                                into result: inout VerificationResult) {
        for (role, bytes) in zip(roles, before) where Array(problem.storage[role]!.storage) != bytes {
            result.failures.append("\(call) modified its input \(role)")
        }
    }

    private func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}

/// Where exact results are required: outputs of rows that see no key and gradients of keys
/// no query sees, as offsets into the row-major reference arrays.
struct EmptyRows {
    var emptyRowOutOffsets: [Int] = []
    var emptyRowLSEOffsets: [Int] = []
    var unseenKeyOffsets: [Int] = []

    init(problem: RandomProblem, layout: AttentionLayout, lse: [Double]) {
        let D = layout.headDim
        for b in 0..<layout.batch {
            let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
            for h in 0..<layout.heads {
                for i in 0..<sq {
                    let l = GatheredProblem.lseIndex(layout, b, h, i)
                    guard lse[l] == .infinity else { continue }
                    emptyRowLSEOffsets.append(l)
                    let o = (GatheredProblem.tokenQ(layout, b, i) * layout.heads + h) * D
                    emptyRowOutOffsets.append(contentsOf: o..<(o + D))
                }
            }
            for j in 0..<sk {
                var seen = false
                for i in 0..<sq where GatheredProblem.visible(problem.options, i, j, sq: sq, sk: sk) {
                    seen = true
                    break
                }
                guard !seen else { continue }
                for kh in 0..<layout.kvHeads {
                    let o = (GatheredProblem.tokenK(layout, b, j) * layout.kvHeads + kh) * D
                    unseenKeyOffsets.append(contentsOf: o..<(o + D))
                }
            }
        }
    }
}

/// A short scientific rendering (3 significant digits) without Foundation.
public func formatError(_ x: Double) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    if x == 0 { return "0" }
    var exponent = 0
    var mantissa = abs(x)
    while mantissa >= 10 { mantissa /= 10; exponent += 1 }
    while mantissa < 1 { mantissa *= 10; exponent -= 1 }
    var scaled = Int((mantissa * 100).rounded())
    if scaled >= 1000 { scaled /= 10; exponent += 1 }
    let digits = String(scaled)
    let sign = x < 0 ? "-" : ""
    return "\(sign)\(digits.prefix(1)).\(digits.dropFirst())e\(exponent)"
}
