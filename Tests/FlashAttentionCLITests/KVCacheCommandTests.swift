import ArgumentParser
import FlashAttention
import FlashAttentionReference
import Foundation
import Testing

import FlashAttentionCLI

/// `flash-attn kvcache` in process: outputs against the float64 oracle, refusals naming the
/// flag with no file written.
@Suite struct KVCacheCommandTests {
    /// A paged cache (pages of 3 rows) with a new token per row, rotary and a left pad.
    final class Files {
        let workspace: Workspace
        static let batch = 2, heads = 4, kvHeads = 2, headDim = 8, page = 3, pagesPerRow = 4, numBlocks = 9
        let q: NumpyArray, kCache: NumpyArray, vCache: NumpyArray, k: NumpyArray, v: NumpyArray, cos: NumpyArray, sin: NumpyArray
        let lengths: [Int32] = [5, 10], pads: [Int32] = [2, 0]
        let table: [Int32] = [4, 0, 7, 2, 1, 8, 3, 6]

        init() throws {
            workspace = try Workspace()
            var rng = SeededRandom(seed: 5)
            func array(_ shape: [Int]) -> NumpyArray {
                NumpyArray(shape: shape, float32: (0..<shape.reduce(1, *)).map { _ in Float(rng.normal()) })
            }
            let b = Self.batch, h = Self.heads, hk = Self.kvHeads, d = Self.headDim
            q = array([b, 1, h, d])
            kCache = array([Self.numBlocks, Self.page, hk, d])
            vCache = array([Self.numBlocks, Self.page, hk, d])
            k = array([b, 1, hk, d])
            v = array([b, 1, hk, d])
            let angles = (0..<(12 * 2)).map { _ in rng.uniform(0, 6.28) }
            cos = NumpyArray(shape: [12, 2], float32: angles.map { Float(Foundation.cos($0)) })
            sin = NumpyArray(shape: [12, 2], float32: angles.map { Float(Foundation.sin($0)) })
            for (name, value) in [("q", q), ("kc", kCache), ("vc", vCache), ("kn", k), ("vn", v), ("cos", cos), ("sin", sin)] {
                workspace.write(name + ".npy", value)
            }
            workspace.write("lens.npy", Self.integers([2], lengths.map(Int64.init), int64: false))
            workspace.write("pads.npy", Self.integers([2], pads.map(Int64.init), int64: true))
            workspace.write("table.npy", Self.integers([2, Self.pagesPerRow], table.map(Int64.init), int64: true))
        }

        static func integers(_ shape: [Int], _ values: [Int64], int64: Bool) -> NumpyArray {
            var bytes: [UInt8] = []
            for value in values {
                if int64 { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } } else {
                    withUnsafeBytes(of: Int32(value).littleEndian) { bytes += $0 }
                }
            }
            return NumpyArray(shape: shape, element: int64 ? .int64 : .int32, bytes: bytes)
        }

        func arguments(_ extra: [String] = []) -> [String] {
            let w = workspace
            return ["--q", w.file("q.npy"), "--k-cache", w.file("kc.npy"), "--v-cache", w.file("vc.npy"),
                    "--k", w.file("kn.npy"), "--v", w.file("vn.npy"), "--cache-seqlens", w.file("lens.npy"),
                    "--block-table", w.file("table.npy"), "--cache-leftpad", w.file("pads.npy"),
                    "--rotary-cos", w.file("cos.npy"), "--rotary-sin", w.file("sin.npy"), "--causal",
                    "--out", w.file("o.npy"), "--lse", w.file("lse.npy"),
                    "--k-cache-out", w.file("kc2.npy"), "--v-cache-out", w.file("vc2.npy")] + extra
        }
    }

    @Test func pagedRotaryLeftPadAgainstTheOracle() throws {
        let files = try Files()
        try KVCacheCommand.parse(files.arguments()).perform()
        let qt = files.q.tensor(as: .float32), kct = files.kCache.tensor(as: .float32), vct = files.vCache.tensor(as: .float32)
        let kt = files.k.tensor(as: .float32), vt = files.v.tensor(as: .float32)
        let cost = files.cos.tensor(as: .float32), sint = files.sin.tensor(as: .float32)
        let arguments = KVCacheArguments(
            q: qt.view, kCache: kct.view, vCache: vct.view, k: kt.view, v: vt.view, cacheSeqlens: files.lengths,
            blockTable: BlockTable(entries: files.table, maxBlocksPerSequence: Files.pagesPerRow),
            rotary: RotaryEmbedding(cos: cost.view, sin: sint.view, interleaved: false), cacheLeftPad: files.pads,
            out: Tensor(shape: qt.shape).view, lse: Tensor(shape: [2, 4, 1]).view, options: AttentionOptions(causal: true))
        let expected = try ReferenceKVCache.run(arguments)
        let w = files.workspace
        #expect(relativeError(try w.read("o.npy").floats(), expected.out) < 1e-5)
        #expect(relativeError(try w.read("lse.npy").floats(), expected.lse) < 1e-6)
        #expect(try w.read("vc2.npy").floats() == expected.vCache.map { Float($0) })
        #expect(relativeError(try w.read("kc2.npy").floats(), expected.kCache) < 1e-6)
    }

    /// Each refusal names its flag and leaves no file behind.
    @Test func refusalsNameTheFlag() throws {
        let files = try Files()
        let w = files.workspace
        w.write("floats.npy", NumpyArray(shape: [2], float32: [1, 2]))
        w.write("long.npy", Files.integers([2], [5, 12], int64: false))  // 12 + 1 new > 12 keys per row
        let cases: [([String], String)] = [
            (files.arguments().filter { $0 != w.file("lens.npy") && $0 != "--cache-seqlens" }, "--cache-seqlens"),
            (files.arguments(["--cache-seqlens", w.file("floats.npy")]), "--cache-seqlens"),
            (files.arguments(["--cache-seqlens", w.file("long.npy")]), "--cache-seqlens"),
            (files.arguments(["--block-table", w.file("lens.npy")]), "--block-table"),
            (files.arguments(["--cache-batch-idx", w.file("lens.npy")]), "--cache-batch-idx"),
            (files.arguments(["--num-splits", "-2"]), "--num-splits"),
            (files.arguments(["--rotary-cos", w.file("q.npy")]), "--rotary-cos"),
            (files.arguments(["--window-left", "x"]), "--window-left"),
            (files.arguments(["--device", "cuda"]), "--device"),
            (files.arguments(["--cache-leftpad", w.file("long.npy")]), "--cache-leftpad"),
        ]
        let before = try w.listing()
        for (arguments, flag) in cases {
            // ArgumentParser keeps the last value of a repeated option.
            #expect {
                try KVCacheCommand.parse(arguments).perform()
            } throws: { error in
                guard let error = error as? CLIError else { return false }
                return error.argument == flag && !error.description.contains("\n")
            }
            #expect(try w.listing() == before, "\(flag): a refusal wrote a file")
        }
        var withoutV = files.arguments()
        if let index = withoutV.firstIndex(of: "--v") { withoutV.removeSubrange(index...(index + 1)) }
        #expect { try KVCacheCommand.parse(withoutV).perform() } throws: { ($0 as? CLIError)?.argument == "--v" }
    }
}
