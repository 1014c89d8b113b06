/// The GPU architecture a kernel is compiled for, named by compute capability.
///
/// Compute capability 9.0 compiles as `sm_90a`, the target that admits Hopper-only
/// instructions (`wgmma`, `setmaxnreg`); the others compile for their plain `sm_XY`.
public struct GPUArchitecture: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Major·10 + minor: 80, 86, 89, 90, …
    public let computeCapability: Int

    public init(computeCapability: Int) { self.computeCapability = computeCapability }

    public static let sm80 = GPUArchitecture(computeCapability: 80)
    public static let sm86 = GPUArchitecture(computeCapability: 86)
    public static let sm89 = GPUArchitecture(computeCapability: 89)
    public static let sm90a = GPUArchitecture(computeCapability: 90)

    /// The target name NVRTC takes (`sm_90a`, `sm_80`).
    public var targetName: String { computeCapability == 90 ? "sm_90a" : "sm_\(computeCapability)" }

    public var description: String { targetName }

    /// Parses `sm_90a`, `sm90`, `90`, `sm_80`.
    public init?(name: String) {
        var text = name.lowercased()
        if text.hasPrefix("sm_") { text.removeFirst(3) } else if text.hasPrefix("sm") { text.removeFirst(2) }
        if text.hasSuffix("a") { text.removeLast() }
        guard let value = Int(text), value >= 80 else { return nil }
        self.computeCapability = value
    }

    /// The most dynamic shared memory a block may opt in to, in bytes (the CUDA programming
    /// guide's table); the heuristics size tiles to fit it.
    public var maxSharedMemoryPerBlock: Int {
        switch computeCapability {
        case 80, 87: 166_912
        case 90...: 232_448
        default: 101_376  // 8.6, 8.9 and anything unknown between
        }
    }

    /// Whether `mma.sync`, `ldmatrix` and `cp.async` (the Ampere path) are available: sm_80 and up.
    public var supportsMMASync: Bool { computeCapability >= 80 }

    public static func < (a: GPUArchitecture, b: GPUArchitecture) -> Bool { a.computeCapability < b.computeCapability }
}
