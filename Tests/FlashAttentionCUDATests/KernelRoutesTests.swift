import FlashAttentionCUDA
import FlashAttentionCore
import Foundation
import Testing

/// `flash-attn compile --routes` pre-builds what calls of common shapes run (`KernelRoutes`): the forms the heuristics'
/// table rows alone never reach must be in it.
@Suite("Routed kernels of common shapes (no GPU)")
struct KernelRoutesTests {
    /// No routing knob is set (the default routes).
    static let defaultsInForce = !ProcessInfo.processInfo.environment.keys.contains { $0.hasPrefix("FLASH_ATTENTION_HOPPER") || $0 == "FLASH_ATTENTION_PAD_TILES" }

    @Test func forwardRoutesReachTheFormsTheTableMisses() {
        guard Self.defaultsInForce else { return }
        let routes = KernelRoutes.forward(architecture: .sm90a)
        let table = Set(KernelHeuristics.tableVariants(for: .sm90a).map(\.name))
        #expect(Set(routes.map(\.name)).count == routes.count)
        #expect(routes.count > table.count)
        let tma = routes.filter { $0.mainloop == .tmaWarpSpecialized }
        // Windows (and the narrow-window 64-key steps), softcap, products narrowed to D, the tile-192 rows.
        #expect(tma.contains { $0.mask == .window && $0.blockN == 64 && $0.headDim == 128 })
        #expect(tma.contains { $0.softcap } && tma.contains { $0.alibi && $0.mask == .causal })
        #expect(tma.contains { $0.productHeadDim == 96 } && tma.contains { $0.productHeadDim == 32 })
        #expect(tma.contains { $0.headDim == 192 })
        // What routes elsewhere: narrow D = 64 windows on the wgmma loop, capped D = 256 too.
        #expect(routes.contains { $0.mainloop == .wgmma && $0.mask == .window && $0.headDim == 64 })
        #expect(routes.allSatisfy { $0.invalidReason == nil })
        #expect(KernelRoutes.forward(architecture: .sm80).allSatisfy { $0.mainloop == .mmaSync })
    }

    @Test func backwardRoutesTakeBothKernelFamilies() {
        guard Self.defaultsInForce else { return }
        let h200 = KernelRoutes.backward(architecture: .sm90a, l2CacheBytes: 60 << 20)
        #expect(!h200.hopper.isEmpty && !h200.generic.isEmpty)
        #expect(h200.hopper.contains { $0.productHeadDim != nil })
        #expect(Set(h200.hopper.map(\.name)).count == h200.hopper.count && Set(h200.generic.map(\.name)).count == h200.generic.count)
        let ampere = KernelRoutes.backward(architecture: .sm80)
        #expect(ampere.hopper.isEmpty && !ampere.generic.isEmpty)
    }
}
