import ArgumentParser
import FlashAttention
import Foundation

/// `flash-attn kvcache`: attention over a KV cache on NumPy files (the reference library's
/// `flash_attn_with_kvcache`), with the updated caches written back on request.
///
/// As with `run`, every check happens before any computation and every output is computed before
/// any file is written, so a refusal leaves no output file behind.
public struct KVCacheCommand: ReportingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kvcache",
        abstract: "Attention over a KV cache (append, rotary, paged) on .npy inputs; writes O (and the updated caches).",
        usage: """
            flash-attn kvcache --q Q.npy --k-cache KC.npy --v-cache VC.npy --cache-seqlens L.npy --out O.npy
                [--k K.npy --v V.npy] [--block-table BT.npy] [--rotary-cos C.npy --rotary-sin S.npy]
                [--rotary-interleaved] [--cache-batch-idx I.npy] [--cache-leftpad P.npy] [--causal]
                [--window-left N] [--window-right N] [--softcap X] [--scale X] [--alibi A.npy]
                [--num-splits N] [--dtype float32|float16|bfloat16] [--device cpu|cuda|auto]
                [--lse LSE.npy] [--k-cache-out KC2.npy --v-cache-out VC2.npy]
            """,
        discussion: """
            q (B, Sq, H, D); caches (B_cache, S_cache, Hk, D), or pages (num_blocks, page_size, Hk, D) of \
            any page size ≥ 1 with --block-table (B, max_blocks); optional new k and v (B, S_new, Hk, D) \
            written into the cache at cache_seqlens[b] before attention; rotary tables (S_ro, rotary_dim/2) \
            rotate q and the new k at their cache positions (half-split GPT-NeoX pairs, or adjacent pairs \
            with --rotary-interleaved). Index arrays (--cache-seqlens (B) or a scalar, --block-table, \
            --cache-batch-idx, --cache-leftpad) are int32 or int64 .npy files; the rest float32 or float16. \
            Row b attends to cache positions cache_leftpad[b] ..< cache_seqlens[b] + S_new, the queries \
            being the last Sq of them (bottom-right causal/window alignment). Outputs are float32: O, \
            LSE (B, H, Sq) in natural log (+inf for a row that sees no key), and the caches after the \
            append in their input shapes. A refusal prints one 'error:' line and writes no file.
            """)

    @Option(name: .customLong("q"), help: ArgumentHelp("Queries (B, Sq, H, D).", valueName: "Q.npy"))
    public var q: String?
    @Option(name: .customLong("k-cache"), help: ArgumentHelp("Key cache (B_cache, S_cache, Hk, D) or pages (num_blocks, page_size, Hk, D).", valueName: "KC.npy"))
    public var kCache: String?
    @Option(name: .customLong("v-cache"), help: ArgumentHelp("Value cache, shaped like the key cache.", valueName: "VC.npy"))
    public var vCache: String?
    @Option(name: .customLong("k"), help: ArgumentHelp("New keys to append (B, S_new, Hk, D).", valueName: "K.npy"))
    public var k: String?
    @Option(name: .customLong("v"), help: ArgumentHelp("New values to append (B, S_new, Hk, D).", valueName: "V.npy"))
    public var v: String?
    @Option(name: .customLong("cache-seqlens"), help: ArgumentHelp("Keys already cached per row (B) or one for all, int32/int64.", valueName: "L.npy"))
    public var cacheSeqlens: String?
    @Option(name: .customLong("block-table"), help: ArgumentHelp("Pages of each row (B, max_blocks), int32/int64: a paged cache.", valueName: "BT.npy"))
    public var blockTable: String?
    @Option(name: .customLong("rotary-cos"), help: ArgumentHelp("Rotary cos table (S_ro, rotary_dim / 2).", valueName: "C.npy"))
    public var rotaryCos: String?
    @Option(name: .customLong("rotary-sin"), help: ArgumentHelp("Rotary sin table (S_ro, rotary_dim / 2).", valueName: "S.npy"))
    public var rotarySin: String?
    @Flag(name: .customLong("rotary-interleaved"), help: "Rotate adjacent pairs (GPT-J) instead of the two halves (GPT-NeoX).")
    public var rotaryInterleaved = false
    @Option(name: .customLong("cache-batch-idx"), help: ArgumentHelp("Cache row of each batch row (B), int32/int64.", valueName: "I.npy"))
    public var cacheBatchIndex: String?
    @Option(name: .customLong("cache-leftpad"), help: ArgumentHelp("First visible cache position per row (B), int32/int64.", valueName: "P.npy"))
    public var cacheLeftPad: String?
    @Flag(name: .customLong("causal"), help: "Causal mask, bottom-right aligned.")
    public var causal = false
    @Option(name: .customLong("window-left"), parsing: .unconditional,
            help: ArgumentHelp("Keys visible left of the diagonal (-1: unbounded).", valueName: "N"))
    public var windowLeft: String?
    @Option(name: .customLong("window-right"), parsing: .unconditional,
            help: ArgumentHelp("Keys visible right of the diagonal (-1: unbounded).", valueName: "N"))
    public var windowRight: String?
    @Option(name: .customLong("softcap"), parsing: .unconditional, help: ArgumentHelp("Softcap c > 0; 0 disables it.", valueName: "X"))
    public var softcap: String?
    @Option(name: .customLong("scale"), parsing: .unconditional, help: ArgumentHelp("Softmax scale (default 1/√D).", valueName: "X"))
    public var scale: String?
    @Option(name: .customLong("alibi"), help: ArgumentHelp("ALiBi slopes (H) or (B, H).", valueName: "A.npy"))
    public var alibi: String?
    @Option(name: .customLong("num-splits"), parsing: .unconditional,
            help: ArgumentHelp("Key splits per query tile (0: chosen from the sizes; 1: none).", valueName: "N"))
    public var numSplits: String?
    @Option(name: .customLong("dtype"), help: ArgumentHelp("Storage and compute precision: float32, float16 or bfloat16.", valueName: "dtype"))
    public var dtype = "float32"
    @Option(name: .customLong("device"), help: ArgumentHelp("cpu, cuda, or auto.", valueName: "device"))
    public var device = "cpu"
    @Option(name: .customLong("out"), help: ArgumentHelp("Output file for O (B, Sq, H, D).", valueName: "O.npy"))
    public var out: String?
    @Option(name: .customLong("lse"), help: ArgumentHelp("Output file for the log-sum-exp (B, H, Sq).", valueName: "LSE.npy"))
    public var lse: String?
    @Option(name: .customLong("k-cache-out"), help: ArgumentHelp("Output file for the key cache after the append.", valueName: "KC2.npy"))
    public var kCacheOut: String?
    @Option(name: .customLong("v-cache-out"), help: ArgumentHelp("Output file for the value cache after the append.", valueName: "VC2.npy"))
    public var vCacheOut: String?

    public init() {}

    /// The library's argument names as this command spells them.
    static let flagForLibraryName: [String: String] = [
        "q": "--q", "k_cache": "--k-cache", "v_cache": "--v-cache", "k": "--k", "v": "--v",
        "cache_seqlens": "--cache-seqlens", "block_table": "--block-table", "rotary_cos": "--rotary-cos",
        "rotary_sin": "--rotary-sin", "cache_batch_idx": "--cache-batch-idx", "cache_leftpad": "--cache-leftpad",
        "out": "--out", "lse": "--lse", "num_splits": "--num-splits", "alibi_slopes": "--alibi", "softcap": "--softcap",
        "softmax_scale": "--scale", "window_left": "--window-left", "window_right": "--window-right", "device": "--device",
    ]

    public func perform() throws {
        do {
            try execute()
        } catch let FlashAttentionError.invalidArgument(name, expected) {
            throw CLIError(KVCacheCommand.flagForLibraryName[name] ?? name, expected)
        }
    }

    func execute() throws {
        // 1. Flags alone.
        guard let q else { throw CLIError("--q", "a .npy file of queries (B, Sq, H, D); the flag is missing") }
        guard let kCache else { throw CLIError("--k-cache", "a .npy file of the key cache; the flag is missing") }
        guard let vCache else { throw CLIError("--v-cache", "a .npy file of the value cache; the flag is missing") }
        guard let cacheSeqlens else { throw CLIError("--cache-seqlens", "an int32/int64 .npy file of cached lengths (B); the flag is missing") }
        guard let out else { throw CLIError("--out", "an output path for O; the flag is missing") }
        if (k == nil) != (v == nil) { throw CLIError(k == nil ? "--k" : "--v", message: "missing: new keys and values go together (--k and --v)") }
        if (rotaryCos == nil) != (rotarySin == nil) {
            throw CLIError(rotaryCos == nil ? "--rotary-cos" : "--rotary-sin", message: "missing: the rotary tables go together (--rotary-cos and --rotary-sin)")
        }
        let elementType = try ArgumentValues.elementType(dtype)
        let deviceSelection = try ArgumentValues.device(device)
        var options = try ArgumentValues.attentionOptions(
            scale: scale, causal: causal, windowLeft: windowLeft, windowRight: windowRight, softcap: softcap)
        var splits = 0
        if let numSplits {
            guard let value = Int(numSplits), value >= 0 else { throw CLIError("--num-splits", "an integer ≥ 0 (0 picks the splits), got '\(numSplits)'") }
            splits = value
        }
        var destinations: [(flag: String, path: String)] = [("--out", out)]
        if let lse { destinations.append(("--lse", lse)) }
        if let kCacheOut { destinations.append(("--k-cache-out", kCacheOut)) }
        if let vCacheOut { destinations.append(("--v-cache-out", vCacheOut)) }
        try OutputFiles.checkWritable(destinations)
        let backend: any KVCacheBackend
        do {
            backend = try FlashAttention.kvCacheBackend(for: deviceSelection)
        } catch let error as FlashAttentionError {
            throw CLIError("--device", message: "\(deviceSelection.rawValue) cannot run kvcache here: \(error); use --device cpu")
        }

        // 2. Inputs.
        let qArray = try RunCommand.load(q, flag: "--q")
        guard qArray.shape.count == 4 else { throw CLIError("--q", "rank 4 (B, Sq, H, D), got shape \(describe(qArray.shape))") }
        let batch = qArray.shape[0]
        let kCacheArray = try RunCommand.load(kCache, flag: "--k-cache")
        let vCacheArray = try RunCommand.load(vCache, flag: "--v-cache")
        let newK = try k.map { try RunCommand.load($0, flag: "--k") }
        let newV = try v.map { try RunCommand.load($0, flag: "--v") }
        let cos = try rotaryCos.map { try RunCommand.load($0, flag: "--rotary-cos") }
        let sin = try rotarySin.map { try RunCommand.load($0, flag: "--rotary-sin") }
        var lengths = try KVCacheCommand.indices(cacheSeqlens, flag: "--cache-seqlens")
        if lengths.shape.isEmpty { lengths = (shape: [batch], values: [Int32](repeating: lengths.values.first ?? 0, count: batch)) }
        guard lengths.shape.count == 1 else { throw CLIError("--cache-seqlens", "shape (B) or a scalar, got \(describe(lengths.shape))") }
        var table: BlockTable?
        if let blockTable {
            let array = try KVCacheCommand.indices(blockTable, flag: "--block-table")
            guard array.shape.count == 2 else { throw CLIError("--block-table", "shape (B, max_blocks), got \(describe(array.shape))") }
            guard array.shape[0] == batch else { throw CLIError("--block-table", "\(batch) rows (the batch of --q), got \(array.shape[0])") }
            table = BlockTable(entries: array.values, maxBlocksPerSequence: array.shape[1])
        }
        func vector(_ path: String?, _ flag: String) throws -> [Int32]? {
            guard let path else { return nil }
            let array = try KVCacheCommand.indices(path, flag: flag)
            guard array.shape.count == 1 else { throw CLIError(flag, "shape (B), got \(describe(array.shape))") }
            return array.values
        }
        let batchIndex = try vector(cacheBatchIndex, "--cache-batch-idx")
        let leftPad = try vector(cacheLeftPad, "--cache-leftpad")
        var slopes: Tensor?
        if let alibi {
            let tensor = try RunCommand.load(alibi, flag: "--alibi").tensor(as: .float32)
            options.alibi = ALiBi(slopes: tensor.view)
            slopes = tensor
        }

        // 3. Compute (the caches are updated in these host copies).
        let qt = qArray.tensor(as: elementType)
        let kct = kCacheArray.tensor(as: elementType), vct = vCacheArray.tensor(as: elementType)
        let kt = newK?.tensor(as: elementType), vt = newV?.tensor(as: elementType)
        let cost = cos?.tensor(as: elementType), sint = sin?.tensor(as: elementType)
        let ot = Tensor(shape: qArray.shape, elementType: elementType)
        let lt = Tensor(shape: [batch, qArray.shape[2], qArray.shape[1]], elementType: .float32)
        let arguments = KVCacheArguments(
            q: qt.view, kCache: kct.view, vCache: vct.view, k: kt?.view, v: vt?.view, cacheSeqlens: lengths.values,
            blockTable: table, rotary: cost.map { RotaryEmbedding(cos: $0.view, sin: sint!.view, interleaved: rotaryInterleaved) },
            cacheBatchIndex: batchIndex, cacheLeftPad: leftPad, out: ot.view, lse: lt.view, options: options, numSplits: splits)
        try withExtendedLifetime((slopes, kt, vt, cost, sint)) { try backend.forwardWithKVCache(arguments) }

        // 4. Write all outputs, or none.
        var files = OutputFiles()
        files.add(flag: "--out", path: out, bytes: NumpyArray(float32Of: ot).npyBytes())
        if let lse { files.add(flag: "--lse", path: lse, bytes: NumpyArray(float32Of: lt).npyBytes()) }
        if let kCacheOut { files.add(flag: "--k-cache-out", path: kCacheOut, bytes: NumpyArray(float32Of: kct).npyBytes()) }
        if let vCacheOut { files.add(flag: "--v-cache-out", path: vCacheOut, bytes: NumpyArray(float32Of: vct).npyBytes()) }
        try files.commit()
    }

    /// An int32/int64 .npy file as Int32 values (a scalar has shape []).
    static func indices(_ path: String, flag: String) throws -> (shape: [Int], values: [Int32]) {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError(flag, message: "no such file '\(path)'") }
        let array: NumpyArray
        do {
            array = try NumpyArray(contentsOf: path)
        } catch let error as NumpyFormatError {
            throw CLIError(flag, "an int32 or int64 C-order .npy file, '\(path)': \(error.reason)")
        }
        guard array.element == .int32 || array.element == .int64 else {
            throw CLIError(flag, "an int32 or int64 .npy file (indices), got dtype '\(array.element.rawValue)' in '\(path)'")
        }
        var values: [Int32] = []
        for value in array.integers() {
            guard let small = Int32(exactly: value) else { throw CLIError(flag, "values that fit in int32, got \(value)") }
            values.append(small)
        }
        return (array.shape, values)
    }
}
