import FlashAttentionCore

/// The Hopper backward's knob settings, as strings the way the environment gives them (nil: unset, the default). The
/// runtime reads them from the environment once (`HopperBackwardSettings.environment`); a value with none set is the
/// default route, which is what the tests enumerate.
public struct HopperBackwardSettings: Sendable, Hashable {
    /// `FLASH_ATTENTION_HOPPER_BWD`
    public var enabled: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_DQ`
    public var order: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_DQBUF`
    public var buffers: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_DQWRITERS`
    public var writers: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_PIPE`
    public var pipelined: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_EARLYDV`
    public var earlyDV: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_LATEDK`
    public var lateDK: String?
    /// `FLASH_ATTENTION_HOPPER_BWD256`
    public var wide: String?
    /// `FLASH_ATTENTION_HOPPER_BWD256_STAGES`
    public var wideStages: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_GROUP`
    public var headGroup: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH`
    public var maskBranch: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_FASTPASS`
    public var fastPasses: String?
    /// `FLASH_ATTENTION_HOPPER_BWD256_DQ`
    public var wideOrder: String?
    /// `FLASH_ATTENTION_HOPPER_BWD256_TURNS`
    public var wideTurns: String?
    /// `FLASH_ATTENTION_HOPPER_BWD256_WRITERS`
    public var wideWriters: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_PINGPONG`
    public var pingPong: String?
    /// `FLASH_ATTENTION_HOPPER_BWD256_QRING`
    public var wideQRing: String?
    /// `FLASH_ATTENTION_HOPPER_BWD256_EPI`
    public var wideEpilogue: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_STATS`
    public var earlyStats: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_LATEFENCE`
    public var lateFence: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_PERSIST`
    public var persist: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_DESC`
    public var descriptors: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_EPI`
    public var stagedEpilogue: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_DEPCVT`
    public var dependentConvert: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_DEPSTATS`
    public var dependentStats: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_STAGES`
    public var stages: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT`
    public var tailSplit: String?
    /// `FLASH_ATTENTION_HOPPER_BWD_PRODUCTS`
    public var products: String?

    public init(enabled: String? = nil, order: String? = nil, buffers: String? = nil, writers: String? = nil,
                pipelined: String? = nil, earlyDV: String? = nil, lateDK: String? = nil, wide: String? = nil,
                wideStages: String? = nil, headGroup: String? = nil, maskBranch: String? = nil,
                fastPasses: String? = nil, wideOrder: String? = nil, wideTurns: String? = nil,
                wideWriters: String? = nil, pingPong: String? = nil, wideQRing: String? = nil,
                wideEpilogue: String? = nil, earlyStats: String? = nil, lateFence: String? = nil,
                persist: String? = nil, descriptors: String? = nil, stagedEpilogue: String? = nil,
                dependentConvert: String? = nil, dependentStats: String? = nil, stages: String? = nil, tailSplit: String? = nil,
                products: String? = nil) {
        self.enabled = enabled
        self.order = order
        self.buffers = buffers
        self.writers = writers
        self.pipelined = pipelined
        self.earlyDV = earlyDV
        self.lateDK = lateDK
        self.wide = wide
        self.wideStages = wideStages
        self.headGroup = headGroup
        self.maskBranch = maskBranch
        self.fastPasses = fastPasses
        self.wideOrder = wideOrder
        self.wideTurns = wideTurns
        self.wideWriters = wideWriters
        self.pingPong = pingPong
        self.wideQRing = wideQRing
        self.wideEpilogue = wideEpilogue
        self.earlyStats = earlyStats
        self.lateFence = lateFence
        self.persist = persist
        self.descriptors = descriptors
        self.stagedEpilogue = stagedEpilogue
        self.dependentConvert = dependentConvert
        self.dependentStats = dependentStats
        self.stages = stages
        self.tailSplit = tailSplit
        self.products = products
    }

    /// An on/off knob: `1` on, `0` off, anything else (unset) the default.
    static func flag(_ setting: String?, or fallback: @autoclosure () -> Bool) -> Bool {
        setting == "1" ? true : setting == "0" ? false : fallback()
    }

    /// A one-or-two knob (buffers, writers, stages): `1` or `2`, anything else (unset) the default.
    static func count(_ setting: String?, or fallback: @autoclosure () -> Int) -> Int {
        setting == "1" ? 1 : setting == "2" ? 2 : fallback()
    }
}

extension HopperBackwardDescriptor {
    /// The Hopper backward's kernels for `problem` under `settings`: every knob the settings leave unset takes its
    /// measured default. A pure function of its arguments, so the route the runtime launches is the route the tests
    /// enumerate. `fastPasses`: the fast preprocess and conversion were wanted and O's and dQ's rows allow them;
    /// `l2CacheBytes`: the device's L2 (``defaultPersistentTiles(_:l2CacheBytes:)``); `persistentTilesFit` /
    /// `linearGridFits`: the persistent grid's tile count and the grouped grid's block count fit an int.
    public static func resolvedPlan(for problem: BackwardProblem, settings: HopperBackwardSettings = HopperBackwardSettings(),
                                    fastPasses: Bool, l2CacheBytes: Int, persistentTilesFit: Bool = true,
                                    linearGridFits: Bool = true) -> [HopperBackwardDescriptor]? {
        typealias S = HopperBackwardSettings
        let orderSetting = settings.order
        let earlyDV = S.flag(settings.earlyDV, or: defaultEarlyDV(problem))
        // `FLASH_ATTENTION_HOPPER_BWD_PERSIST=1`: tile D = 128 non-deterministic calls with the early dV and late dK (unmasked)
        // run the persistent grid, which adds dQ in arrival order (unless `FLASH_ATTENTION_HOPPER_BWD_DQ=ordered`); `=0` never;
        // unset, where ``defaultPersistentTiles(_:l2CacheBytes:)`` says (unmasked only, so a causal call never loses its
        // ordered dQ to it).
        let persistWanted = settings.persist == "1"
            || (settings.persist == nil && defaultPersistentTiles(problem, l2CacheBytes: l2CacheBytes))
        let persistent = persistWanted && !problem.deterministic && orderSetting != "ordered"
            && tileHeadDim(problem.headDim) == 128 && earlyDV && settings.lateDK != "0" && persistentTilesFit
        // A deterministic call always adds in key-block order, whatever the knob says.
        let ordered = problem.deterministic || orderSetting == "ordered"
            || (!persistent && orderSetting != "unordered" && defaultOrderedDQ(problem))
        // Two buffers fit both tiles (tile D = 64 with its barriers in the alignment pad); a
        // layout over the limit would make `plan` hand the problem to the other kernels.
        let buffers = S.count(settings.buffers, or: defaultDQBuffers(problem))
        // Arrival-order adds wait on no turn: one writer serves both buffers.
        let writers = buffers != 2 || !ordered ? 1 : S.count(settings.writers, or: defaultDQWriters(problem))
        // The grouped order runs on one linear grid (x ≤ 2³¹ − 1 blocks).
        let groupSetting = settings.headGroup.flatMap { Int($0) }
        let headGroup = linearGridFits ? groupSetting.map { max(0, min(64, $0)) } ?? defaultHeadGroup(problem) : 0
        // Tile D = 256: `FLASH_ATTENTION_HOPPER_BWD256_DQ=unordered|ordered` (deterministic calls: ordered).
        let wideOrdered = problem.deterministic || settings.wideOrder == "ordered"
            || (settings.wideOrder != "unordered" && defaultWideOrderedDQ(problem))
        // `FLASH_ATTENTION_HOPPER_BWD256_TURNS=chunk|tile`: the ordered dQ's turn counters per 64-column chunk or per tile.
        let wideTurns = settings.wideTurns == "chunk" ? true : settings.wideTurns == "tile" ? false : defaultWideChunkTurns(problem)
        // `FLASH_ATTENTION_HOPPER_BWD_STAGES=3`: tile D = 64/128's key/value kernel with three Q/dO stages where its shared
        // memory holds them (one dQ buffer at tile D = 128; a tuning hook, session 27); elsewhere the two it takes by default.
        let stages = settings.stages == "3" ? 3 : 2
        func planned(stages: Int) -> [HopperBackwardDescriptor]? {
            plan(for: problem, orderedDQ: ordered, dqBuffers: buffers, dqWriters: writers, stages: stages,
                 pipelinedS: S.flag(settings.pipelined, or: defaultPipelinedS(problem)), earlyDV: earlyDV,
                 lateDK: S.flag(settings.lateDK, or: defaultLateDK(problem)),
                 wideStages: S.count(settings.wideStages, or: defaultWideStages(problem)), headGroup: headGroup,
                 maskBranch: S.flag(settings.maskBranch, or: defaultMaskBranch(problem)), fastPasses: fastPasses,
                 wideOrderedDQ: wideOrdered, wideChunkTurns: wideTurns,
                 // `FLASH_ATTENTION_HOPPER_BWD256_WRITERS=1|2`: the ordered dQ's writer threads (one turn per tile).
                 wideWriters: S.count(settings.wideWriters, or: defaultWideWriters(problem)),
                 // `FLASH_ATTENTION_HOPPER_BWD_PINGPONG=1`: out-of-phase consumers at tile D = 128 (off unless set).
                 pingPong: settings.pingPong == "1",
                 // `FLASH_ATTENTION_HOPPER_BWD_STATS=1|0`: tile D = 128 reads L and D ahead of the waits;
                 // `FLASH_ATTENTION_HOPPER_BWD_LATEFENCE=1|0`: its late dK form fences dQ_partial after dK (session 8).
                 earlyStats: S.flag(settings.earlyStats, or: defaultEarlyStats(problem)),
                 lateFence: S.flag(settings.lateFence, or: defaultLateFence(problem)),
                 // `FLASH_ATTENTION_HOPPER_BWD256_QRING=1|0`: the wide one-stage form's Q ring; unset, the default.
                 wideQRing: S.flag(settings.wideQRing, or: defaultWideQRing(problem)),
                 // `FLASH_ATTENTION_HOPPER_BWD256_EPI=1|0`: its dK/dV stores staged through the dQ staging (session 8).
                 wideStagedEpilogue: S.flag(settings.wideEpilogue, or: defaultWideStagedEpilogue(problem)),
                 persistentTiles: persistent,
                 // `FLASH_ATTENTION_HOPPER_BWD_DESC=1|0`: precomputed wgmma descriptors (session 9).
                 precomputedDescriptors: S.flag(settings.descriptors, or: defaultPrecomputedDescriptors(problem)),
                 // `FLASH_ATTENTION_HOPPER_BWD_EPI=1|0`: tile D = 64/128's dK/dV staged through the Q/dO ring (sessions 13, 14).
                 stagedEpilogue: S.flag(settings.stagedEpilogue, or: defaultStagedEpilogue(problem)),
                 // `FLASH_ATTENTION_HOPPER_BWD_DEPCVT=1|0`: the conversion pass as a programmatic dependent of the key/value
                 // kernel, waiting on each tile's turn counter (session 23), where its form applies.
                 dependentConvert: S.flag(settings.dependentConvert, or: defaultDependentConvert(problem)),
                 // `FLASH_ATTENTION_HOPPER_BWD_DEPSTATS=1|0`: the key/value kernel as a programmatic dependent of the
                 // preprocess, waiting before its first L/D load (session 24), tile D = 64/128.
                 dependentStats: S.flag(settings.dependentStats, or: defaultDependentStats(problem)))
        }
        guard var kernels = planned(stages: stages) ?? (stages == 2 ? nil : planned(stages: 2)) else { return nil }
        // `FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1|0`: the last round's key blocks split over the idle multiprocessors
        // (session 29) where the key/value kernel can take it; unset, ``defaultTailSplit(_:)``. Never for deterministic calls:
        // the parts' float32 dK / dV sums arrive in any order.
        if !problem.deterministic && S.flag(settings.tailSplit, or: defaultTailSplit(problem)) {
            var split = kernels[1]
            split.tailSplit = true
            if split.invalidReason == nil { kernels[1] = split }
        }
        // `FLASH_ATTENTION_HOPPER_BWD_PRODUCTS=0`: the key/value kernel's products over the tile's columns (the kernels before
        // session 34); unset, over the problem's D rounded up to 16 where that is less than tile D = 64 / 128 (the validity
        // check refuses the wide tile D = 256 kernel).
        let product = PaddedTileHeadDim.productHeadDim(problem.headDim)
        if settings.products != "0" && product < kernels[1].headDim {
            var narrowed = kernels[1]
            narrowed.productHeadDim = product
            if narrowed.invalidReason == nil { kernels[1] = narrowed }
        }
        return kernels
    }
}
