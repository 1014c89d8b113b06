/// The storage precision of a tensor. Accumulation is always float32, whatever the storage.
public enum ElementType: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case float32
    case float16
    case bfloat16

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float32: 4
        case .float16, .bfloat16: 2
        }
    }

    /// Unit roundoff of the storage format (half an ulp at 1), used by error budgets.
    public var unitRoundoff: Double {
        switch self {
        case .float32: 0x1p-24
        case .float16: 0x1p-11
        case .bfloat16: 0x1p-8
        }
    }

    public var description: String { rawValue }

    /// Parses the spellings the command line and the C ABI accept (`float32`, `fp32`, `f32`, …).
    public init?(name: String) {
        switch name.lowercased() {
        case "float32", "fp32", "f32", "float": self = .float32
        case "float16", "fp16", "f16", "half": self = .float16
        case "bfloat16", "bf16": self = .bfloat16
        default: return nil
        }
    }
}

// MARK: - Scalar conversions

/// Conversions between float32 and the 16-bit storage formats, round-to-nearest-even.
///
/// Written on bit patterns so they behave identically on every platform and match the GPU's
/// `cvt.rn` instructions.
public enum HalfConversion {
    @inlinable
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    @inlinable
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    @inlinable
    public static func float16Bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    @inlinable
    public static func float(float16Bits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// Rounds a float32 value to the given storage precision and back.
    @inlinable
    public static func round(_ value: Float, to type: ElementType) -> Float {
        switch type {
        case .float32: value
        case .float16: Float(Float16(value))
        case .bfloat16: float(bfloat16Bits: bfloat16Bits(value))
        }
    }
}
