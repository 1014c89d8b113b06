import FlashAttentionCore
import CFlashKernels

#if canImport(Glibc)
import Glibc
#endif

/// The task bodies of one backward call. Shared read-only by the workers; each task writes
/// only memory it owns (its dK/dV rows, its dQ partial, its rows of the statistics).
struct BackwardPass: @unchecked Sendable {
    /// A raw buffer handed to the workers; tasks write disjoint parts of it.
    struct Buffer: @unchecked Sendable { let pointer: UnsafeMutablePointer<Float> }

    let arguments: BackwardArguments
    let layout: AttentionLayout
    let plan: BackwardPlan
    /// Contiguous LSE and Δ, indexed [head · totalQ + token].
    let lse: UnsafeMutablePointer<Float>
    let delta: UnsafeMutablePointer<Float>
    /// Q and dO converted once to float32, [head · totalQ + token] rows of paddedDim, when they
    /// cannot be read in place (16-bit storage or a non-unit dim stride); nil otherwise.
    /// Without them every key tile would convert the same rows again (Sk / tileK times).
    let queryRows: UnsafeMutablePointer<Float>?
    let dOutRows: UnsafeMutablePointer<Float>?
    /// dq is float32 rows, so chunk 0 of each group accumulates its dQ there directly.
    let dqInPlace: Bool

    let q: SequenceAddressing, k: SequenceAddressing, v: SequenceAddressing
    let dOut: SequenceAddressing, out: SequenceAddressing
    let dq: SequenceAddressing, dk: SequenceAddressing, dv: SequenceAddressing
    let lseIn: RowStatAddressing
    let scale: Float
    let dropout: DropoutMask?

    init(arguments: BackwardArguments, layout: AttentionLayout, plan: BackwardPlan,
         lse: UnsafeMutablePointer<Float>, delta: UnsafeMutablePointer<Float>,
         queryRows: UnsafeMutablePointer<Float>?, dOutRows: UnsafeMutablePointer<Float>?) {
        self.arguments = arguments
        self.layout = layout
        self.plan = plan
        self.lse = lse
        self.delta = delta
        self.queryRows = queryRows
        self.dOutRows = dOutRows
        q = layout.addressing(q: arguments.q)
        k = layout.addressing(k: arguments.k)
        v = layout.addressing(k: arguments.v)
        dOut = layout.addressing(q: arguments.dOut)
        out = layout.addressing(q: arguments.out)
        dq = layout.addressing(q: arguments.dq)
        dk = layout.addressing(k: arguments.dk)
        dv = layout.addressing(k: arguments.dv)
        lseIn = layout.addressing(rowStats: arguments.lse)
        dqInPlace = BackwardPass.readsInPlace(dq)
        scale = arguments.options.scale(headDim: layout.headDim)
        dropout = arguments.options.dropout.map(DropoutMask.init)
    }

    /// The C kernels take 32-bit sizes and leading dimensions.
    static func checkSizes(arguments: BackwardArguments, layout: AttentionLayout) throws {
        let limit = Int(Int32.max) / 2
        guard layout.seqlenQ < limit, layout.seqlenK < limit else {
            throw FlashAttentionError.unsupported("CPU backward: sequence lengths ≥ 2^30")
        }
    }

    var dim: Int { layout.headDim }

    @inline(__always)
    func token(batch b: Int, row i: Int) -> Int {
        layout.varlen.map { $0.cuSeqlensQ[b] + i } ?? b * layout.seqlenQ + i
    }

    @inline(__always)
    static func address(_ a: SequenceAddressing, batch: Int, row: Int, head: Int) -> UnsafeMutableRawPointer {
        a.data + a.offset(batch: batch, row: row, head: head) * a.elementType.byteCount
    }

    /// Converts `rows` rows of one head into a dense float32 tile (leading dimension paddedDim).
    @inline(__always)
    func pack(_ a: SequenceAddressing, batch: Int, row: Int, head: Int, rows: Int, into dst: UnsafeMutablePointer<Float>) {
        fa_pack_rows_f32(BackwardPass.address(a, batch: batch, row: row, head: head), a.elementType.cType,
                         a.rowStride, a.dimStride, Int32(rows), Int32(dim), dst, Int32(plan.paddedDim))
    }

    /// Whether rows of `a` can be a GEMM operand in place: float32 with unit dim stride.
    static func readsInPlace(_ a: SequenceAddressing) -> Bool {
        a.elementType == .float32 && a.dimStride == 1 && a.rowStride <= Int(Int32.max)
    }

    /// Rows of Q or dO as a GEMM operand: in place, or from the float32 copy.
    @inline(__always)
    func rows(_ a: SequenceAddressing, converted: UnsafeMutablePointer<Float>?, batch: Int, row: Int, head: Int)
        -> (UnsafePointer<Float>, Int32) {
        if let converted {
            let at = converted + (head * layout.totalQ + token(batch: batch, row: row)) * plan.paddedDim
            return (UnsafePointer(at), Int32(plan.paddedDim))
        }
        let p = BackwardPass.address(a, batch: batch, row: row, head: head).assumingMemoryBound(to: Float.self)
        return (UnsafePointer(p), Int32(a.rowStride))
    }

    @inline(__always)
    func store(_ tile: UnsafePointer<Float>, ld: Int, to a: SequenceAddressing, batch: Int, row: Int, head: Int, rows: Int) {
        fa_store_rows_f32(tile, Int32(ld), BackwardPass.address(a, batch: batch, row: row, head: head),
                          a.elementType.cType, a.rowStride, a.dimStride, Int32(rows), Int32(dim))
    }

    // MARK: - Pass 1: row statistics

    /// Δ = rowsum(dO∘O) in float32 and a contiguous copy of the LSE for one (batch, head), and
    /// the float32 copies of its Q and dO rows where those are kept.
    /// Rows that saw no key (LSE = +∞) get Δ = 0, whatever O holds.
    func rowStatistics(batch b: Int, head h: Int, workspace ws: BackwardWorkspace) {
        let sq = layout.seqlenQ(batch: b)
        let base = h * layout.totalQ + token(batch: b, row: 0)
        let pd = plan.paddedDim
        for r0 in stride(from: 0, to: sq, by: plan.blockQ) {
            let rows = min(plan.blockQ, sq - r0)
            let g = dOutRows.map { $0 + (base + r0) * pd } ?? ws.dOut
            pack(dOut, batch: b, row: r0, head: h, rows: rows, into: g)
            if let queryRows { pack(q, batch: b, row: r0, head: h, rows: rows, into: queryRows + (base + r0) * pd) }
            pack(out, batch: b, row: r0, head: h, rows: rows, into: ws.query)
            fa_bwd_row_dot(g, Int32(pd), ws.query, Int32(pd), Int32(rows), Int32(dim), delta + base + r0)
            for r in 0..<rows {
                let value = lseIn.data[lseIn.offset(batch: b, head: h, row: r0 + r)]
                lse[base + r0 + r] = value
                if !(value < .infinity) { delta[base + r0 + r] = 0 }
            }
        }
    }

    // MARK: - Pass 2a: key chunks

    /// dK and dV of the tiles of one chunk (tiles chunk, chunk + C, …), written to dk/dv as each
    /// tile finishes, and this chunk's dQ partial for every head of the group.
    func keyChunk(_ group: BackwardPlan.Group, chunk: Int, partial: UnsafeMutablePointer<Float>,
                  workspace ws: BackwardWorkspace) {
        let b = group.batch, kh = group.kvHead, sq = group.seqlenQ, sk = group.seqlenK
        let G = layout.groupSize, D = Int32(dim)
        let pd = plan.paddedDim, tk = plan.tileK, bq = plan.blockQ
        let geometry = MaskGeometry(seqlenQ: sq, seqlenK: sk, options: arguments.options)
        let tiles = plan.tiles(seqlenK: sk)
        let rowBase = token(batch: b, row: 0)
        // Query blocks sit on a fixed grid of blockQ rows, so a block's partial can start with
        // the first GEMM that reaches it (beta 0) instead of a pass of zeros; blocks no tile
        // reaches get zeros at the end. touched[hl · blocks + block].
        let blocks = (sq + bq - 1) / bq
        var touched = [Bool](repeating: false, count: G * blocks)

        var t = chunk
        while t < tiles {
            let k0 = t * tk, kn = min(tk, sk - k0)
            let kAt = BackwardPass.address(k, batch: b, row: k0, head: kh)
            let vAt = BackwardPass.address(v, batch: b, row: k0, head: kh)
            // Rows first (fast, any dtype), then blocked transposes: a strided transposing pack
            // touches a new cache line per element.
            fa_pack_rows_f32(kAt, k.elementType.cType, k.rowStride, k.dimStride, Int32(kn), D, ws.keys, Int32(pd))
            fa_pack_rows_f32(vAt, v.elementType.cType, v.rowStride, v.dimStride, Int32(kn), D, ws.values, Int32(pd))
            fa_bwd_transpose(ws.keys, Int32(pd), Int32(kn), D, ws.keysT, Int32(tk))
            fa_bwd_transpose(ws.values, Int32(pd), Int32(kn), D, ws.valuesT, Int32(tk))
            ws.dKeys.update(repeating: 0, count: kn * pd)
            ws.dValues.update(repeating: 0, count: kn * pd)

            let queries = geometry.queryRange(keys: k0..<(k0 + kn))
            if !queries.isEmpty {
                for hl in 0..<G {
                    let h = kh * G + hl
                    var params = fa_bwd_params(
                        scale: scale, softcap: arguments.options.softcap,
                        alibi_slope: arguments.options.alibi.map { $0.slope(batch: b, head: h) } ?? 0,
                        diagonal: Int32(sk - sq), dropout: (dropout?.threshold ?? 0) > 0 ? 1 : 0,
                        dropout_threshold: dropout?.threshold ?? 0, dropout_keep_scale: dropout?.keepScale ?? 1,
                        dropout_stream: dropout?.streamKey(batch: b, head: h) ?? 0)
                    let lseRows = lse + h * layout.totalQ + rowBase
                    let deltaRows = delta + h * layout.totalQ + rowBase
                    var i0 = queries.lowerBound / bq * bq
                    while i0 < queries.upperBound {
                        let rows = min(bq, sq - i0)
                        defer { i0 += rows }
                        let seen = geometry.keyRange(rows: i0..<(i0 + rows))
                        let lo = max(seen.lowerBound, k0), hi = min(seen.upperBound, k0 + kn)
                        guard lo < hi else { continue }
                        // Columns [c0, c1) of the tile: what these rows see, from a 16-aligned start.
                        let c0 = (lo - k0) & ~15, c1 = hi - k0, n = Int32(c1 - c0), m = Int32(rows)
                        for r in 0..<rows {
                            let range = geometry.keyRange(row: i0 + r)
                            ws.keyLo[r] = Int32(range.lowerBound)
                            ws.keyHi[r] = Int32(range.upperBound)
                        }
                        let (qp, ldq) = self.rows(q, converted: queryRows, batch: b, row: i0, head: h)
                        let (gp, ldg) = self.rows(dOut, converted: dOutRows, batch: b, row: i0, head: h)
                        let ldt = Int32(tk)
                        // S = Q·Kᵀ and dP = dO·Vᵀ over the visible columns.
                        fa_gemm(0, m, n, D, qp, ldq, ws.keysT + c0, ldt, ws.scores, ldt, 0)
                        fa_gemm(0, m, n, D, gp, ldg, ws.valuesT + c0, ldt, ws.dScores, ldt, 0)
                        // S → Pᵈ, dP → dS.
                        fa_bwd_tile(&params, m, n, Int32(i0), Int32(k0 + c0), ws.keyLo, ws.keyHi,
                                    lseRows + i0, deltaRows + i0, ws.scores, ldt, ws.dScores, ldt)
                        // dV += Pᵈᵀ·dO, dK += dSᵀ·Q, dQ += dS·K.
                        fa_gemm(1, n, D, m, ws.scores, ldt, gp, ldg, ws.dValues + c0 * pd, Int32(pd), 1)
                        fa_gemm(1, n, D, m, ws.dScores, ldt, qp, ldq, ws.dKeys + c0 * pd, Int32(pd), 1)
                        let (dqRows, lddq) = partialRows(group, chunk: chunk, localHead: hl, row: i0, partial: partial)
                        let first = !touched[hl * blocks + i0 / bq]
                        touched[hl * blocks + i0 / bq] = true
                        fa_gemm(0, m, D, n, ws.dScores, ldt, ws.keys + c0 * pd, Int32(pd), dqRows, Int32(lddq), first ? 0 : 1)
                    }
                }
            }
            // Keys no query sees keep the zeros: every dk/dv row is written.
            store(ws.dKeys, ld: pd, to: dk, batch: b, row: k0, head: kh, rows: kn)
            store(ws.dValues, ld: pd, to: dv, batch: b, row: k0, head: kh, rows: kn)
            t += group.chunks
        }
        for hl in 0..<G {
            for block in 0..<blocks where !touched[hl * blocks + block] {
                let (rows, ld) = partialRows(group, chunk: chunk, localHead: hl, row: block * bq, partial: partial)
                for r in 0..<min(bq, sq - block * bq) { (rows + r * ld).update(repeating: 0, count: dim) }
            }
        }
    }

    /// Where chunk `chunk`'s dQ partial of (head `hl` of the group, query row `row`) lives, and
    /// its leading dimension: dq itself for chunk 0 when dq is float32 rows, else a slot of
    /// the wave's partial buffer.
    @inline(__always)
    func partialRows(_ group: BackwardPlan.Group, chunk: Int, localHead hl: Int, row: Int,
                     partial: UnsafeMutablePointer<Float>) -> (UnsafeMutablePointer<Float>, Int) {
        if dqInPlace {
            if chunk == 0 {
                let h = group.kvHead * layout.groupSize + hl
                let p = BackwardPass.address(dq, batch: group.batch, row: row, head: h).assumingMemoryBound(to: Float.self)
                return (p, dq.rowStride)
            }
            return (partial + group.partialBase + (chunk - 1) * group.partialStride + (hl * group.seqlenQ + row) * plan.paddedDim,
                    plan.paddedDim)
        }
        return (partial + group.partialBase + chunk * group.partialStride + (hl * group.seqlenQ + row) * plan.paddedDim,
                plan.paddedDim)
    }

    // MARK: - Pass 2b: dQ

    /// dQ of `blockQ` rows of one head: the chunks' partials summed in chunk order, into dq
    /// (which already holds chunk 0's when dq is float32 rows) or stored in dq's type.
    func storeQueryGradient(_ group: BackwardPlan.Group, localHead hl: Int, row r0: Int,
                            partial: UnsafeMutablePointer<Float>, workspace ws: BackwardWorkspace) {
        let pd = plan.paddedDim
        let rows = min(plan.blockQ, group.seqlenQ - r0)
        let h = group.kvHead * layout.groupSize + hl
        let source = partial + group.partialBase + (hl * group.seqlenQ + r0) * pd
        if dqInPlace {
            guard group.slots > 0 else { return }
            let out = BackwardPass.address(dq, batch: group.batch, row: r0, head: h).assumingMemoryBound(to: Float.self)
            fa_bwd_sum_parts(source, group.partialStride, Int32(group.slots), Int32(rows), Int32(dim), Int32(pd),
                             out, Int32(dq.rowStride), 1)
            return
        }
        var tile = UnsafePointer(source)
        if group.slots > 1 {
            fa_bwd_sum_parts(source, group.partialStride, Int32(group.slots), Int32(rows), Int32(dim),
                             Int32(pd), ws.query, Int32(pd), 0)
            tile = UnsafePointer(ws.query)
        }
        store(tile, ld: pd, to: dq, batch: group.batch, row: r0, head: h, rows: rows)
    }

    // MARK: - Tokens outside every sequence

    /// Zeros the gradient rows of packed tokens past the last sequence (varlen tensors may be
    /// longer than cu_seqlens covers), so that every output element is written.
    func zeroUnusedTokens() {
        guard layout.varlen != nil else { return }
        let zeros = UnsafeMutablePointer<Float>.allocate(capacity: plan.paddedDim)
        defer { zeros.deallocate() }
        zeros.initialize(repeating: 0, count: plan.paddedDim)
        func clear(_ view: TensorView, from first: Int) {
            guard view.shape[0] > first else { return }
            for head in 0..<view.shape[1] {
                let at = view.data + (first * view.strides[0] + head * view.strides[1]) * view.elementType.byteCount
                fa_store_rows_f32(zeros, 0, at, view.elementType.cType, view.strides[0], view.strides[2],
                                  Int32(view.shape[0] - first), Int32(dim))
            }
        }
        clear(arguments.dq, from: layout.totalQ)
        clear(arguments.dk, from: layout.totalK)
        clear(arguments.dv, from: layout.totalK)
    }
}
