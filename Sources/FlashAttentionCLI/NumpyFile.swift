import FlashAttention
import Foundation

/// The element types a `.npy` file may hold for the command line: IEEE float32 and float16,
/// and int32/int64 for index arrays (`flash-attn kvcache`'s sequence lengths and block
/// tables), little-endian.
public enum NumpyElement: String, Sendable, Hashable {
    case float32 = "<f4"
    case float16 = "<f2"
    case int32 = "<i4"
    case int64 = "<i8"

    public var byteCount: Int {
        switch self {
        case .float16: 2
        case .float32, .int32: 4
        case .int64: 8
        }
    }
}

/// A dense, C-order array read from or written to a NumPy `.npy` file.
///
/// The reader is strict: it accepts format versions 1.0, 2.0 and 3.0, a header dictionary with
/// exactly the keys `descr`, `fortran_order` and `shape`, little-endian (or native, on this
/// little-endian host) float32/float16 data in C order, and a data section whose length matches
/// the shape exactly. Anything else is refused with a ``NumpyFormatError`` that says what was
/// wrong, so the command line can print one line and stop.
public struct NumpyArray: Sendable, Equatable {
    public var shape: [Int]
    public var element: NumpyElement
    /// The raw little-endian element bytes, row-major.
    public var bytes: [UInt8]

    public init(shape: [Int], element: NumpyElement, bytes: [UInt8]) {
        self.shape = shape
        self.element = element
        self.bytes = bytes
    }

    /// A float32 array holding `values` (row-major).
    public init(shape: [Int], float32 values: [Float]) {
        self.shape = shape
        element = .float32
        bytes = [UInt8](repeating: 0, count: values.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        }
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The elements as float32, row-major.
    public func floats() -> [Float] {
        var result = [Float](repeating: 0, count: elementCount)
        bytes.withUnsafeBytes { raw in
            switch element {
            case .float32:
                for index in result.indices {
                    result[index] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                }
            case .float16:
                for index in result.indices {
                    let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                    result[index] = HalfConversion.float(float16Bits: bits)
                }
            case .int32, .int64:
                for (index, value) in integers().enumerated() { result[index] = Float(value) }
            }
        }
        return result
    }

    /// The elements of an int32/int64 array, row-major; empty for a float array.
    public func integers() -> [Int] {
        bytes.withUnsafeBytes { raw in
            switch element {
            case .int32: (0..<elementCount).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
            case .int64: (0..<elementCount).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
            case .float32, .float16: []
            }
        }
    }

    /// The array as a tensor of `elementType`, each element rounded to it.
    public func tensor(as elementType: ElementType) -> Tensor {
        let tensor = Tensor(shape: shape, elementType: elementType)
        let view = tensor.view
        guard elementCount > 0 else { return tensor }
        bytes.withUnsafeBytes { raw in
            switch (element, elementType) {
            case (.float32, .float32):
                // Same bit layout on a little-endian host: one copy.
                UnsafeMutableRawPointer(view.data).copyMemory(from: raw.baseAddress!, byteCount: min(raw.count, tensor.storage.count))
            case (.float16, .float16):
                UnsafeMutableRawPointer(view.data).copyMemory(from: raw.baseAddress!, byteCount: min(raw.count, tensor.storage.count))
            case (.float32, _):
                for index in 0..<elementCount {
                    view.store(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))), at: index)
                }
            case (.float16, _):
                for index in 0..<elementCount {
                    let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                    view.store(HalfConversion.float(float16Bits: bits), at: index)
                }
            case (.int32, _), (.int64, _):
                for (index, value) in integers().enumerated() { view.store(Float(value), at: index) }
            }
        }
        return tensor
    }

    /// A float32 array with the tensor's shape and values (converted from its element type).
    public init(float32Of tensor: Tensor) {
        shape = tensor.shape
        element = .float32
        let count = tensor.elementCount
        bytes = [UInt8](repeating: 0, count: count * 4)
        let view = tensor.view
        bytes.withUnsafeMutableBytes { raw in
            for index in 0..<count {
                raw.storeBytes(of: view.load(at: index).bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        }
    }
}

/// Why a `.npy` file was refused. The description is one line.
public struct NumpyFormatError: Error, CustomStringConvertible, Equatable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension NumpyArray {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Parses the bytes of a whole `.npy` file.
    public init(npyBytes data: [UInt8]) throws {
        guard data.count >= 10 else { throw NumpyFormatError("not a .npy file: \(data.count) bytes, shorter than the 10-byte preamble") }
        guard Array(data[0..<6]) == NumpyArray.magic else { throw NumpyFormatError("not a .npy file: the magic string \\x93NUMPY is missing") }
        let major = data[6], minor = data[7]
        let headerLength: Int, headerStart: Int
        switch (major, minor) {
        case (1, 0):
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        case (2, 0), (3, 0):
            guard data.count >= 12 else { throw NumpyFormatError("truncated: the 4-byte header length of format \(major).0 is cut off") }
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        default:
            throw NumpyFormatError("unsupported .npy format version \(major).\(minor) (expected 1.0, 2.0 or 3.0)")
        }
        let dataStart = headerStart + headerLength
        guard dataStart <= data.count else {
            throw NumpyFormatError("truncated: the header claims \(headerLength) bytes, the file has \(data.count - headerStart) after the preamble")
        }
        let headerBytes = Array(data[headerStart..<dataStart])
        // Versions 1 and 2 use latin-1 headers, 3 uses UTF-8; the keys and values we accept are ASCII.
        guard headerBytes.allSatisfy({ $0 < 0x80 }) else { throw NumpyFormatError("the header holds non-ASCII bytes") }
        let header = String(decoding: headerBytes, as: UTF8.self)
        let fields = try NumpyHeader.parse(header)
        let element: NumpyElement
        switch fields.descr {
        case "<f4", "=f4", "|f4": element = .float32  // '=' and '|' mean native: little-endian on every host we build for
        case "<f2", "=f2", "|f2": element = .float16
        case "<i4", "=i4", "|i4": element = .int32
        case "<i8", "=i8", "|i8": element = .int64
        case ">f4", ">f2", ">i4", ">i8": throw NumpyFormatError("dtype '\(fields.descr)' is big-endian; expected little-endian '<f4', '<f2', '<i4' or '<i8'")
        default: throw NumpyFormatError("dtype '\(fields.descr)' is not supported; expected float32 '<f4', float16 '<f2', int32 '<i4' or int64 '<i8'")
        }
        guard !fields.fortranOrder else { throw NumpyFormatError("fortran_order is True; expected a C-order array (np.ascontiguousarray)") }
        var count = 1
        for size in fields.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, product <= Int(Int32.max) * 64 else { throw NumpyFormatError("shape \(fields.shape) is too large") }
            count = product
        }
        let expected = count * element.byteCount
        let actual = data.count - dataStart
        guard actual >= expected else {
            throw NumpyFormatError("truncated: shape \(NumpyHeader.tuple(fields.shape)) of \(fields.descr) needs \(expected) data bytes, the file has \(actual)")
        }
        guard actual == expected else {
            throw NumpyFormatError("\(actual - expected) unexpected bytes after the \(expected) data bytes of shape \(NumpyHeader.tuple(fields.shape))")
        }
        self.init(shape: fields.shape, element: element, bytes: Array(data[dataStart...]))
    }

    /// The bytes of a `.npy` file holding this array: format 1.0 when the header fits, else 2.0.
    public func npyBytes() -> [UInt8] {
        let dict = "{'descr': '\(element.rawValue)', 'fortran_order': False, 'shape': \(NumpyHeader.tuple(shape)), }"
        // The header (with its trailing newline) is padded with spaces so the data starts on a
        // 64-byte boundary, as NumPy writes it.
        func header(preamble: Int) -> [UInt8] {
            let unpadded = preamble + dict.utf8.count + 1
            let padding = (64 - unpadded % 64) % 64
            return Array(dict.utf8) + [UInt8](repeating: 0x20, count: padding) + [0x0A]
        }
        var out = NumpyArray.magic
        var text = header(preamble: 10)
        if text.count <= 0xFFFF {
            out += [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
        } else {
            text = header(preamble: 12)
            let n = text.count
            out += [2, 0, UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8((n >> 24) & 0xFF)]
        }
        out += text
        out += bytes
        return out
    }

    /// Reads a `.npy` file. Errors say what was wrong in one line (missing file, format).
    public init(contentsOf path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NumpyFormatError("no such file '\(path)'")
        }
        guard !isDirectory.boolValue else { throw NumpyFormatError("'\(path)' is a directory, not a .npy file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw NumpyFormatError("cannot read '\(path)'") }
        try self.init(npyBytes: [UInt8](data))
    }
}

/// The header dictionary of a `.npy` file: a Python literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, parsed strictly.
enum NumpyHeader {
    struct Fields {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]
    }

    enum Value {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    static func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    static func parse(_ text: String) throws -> Fields {
        var scanner = Scanner(Array(text.utf8))
        let dict = try scanner.dictionary()
        scanner.skipSpace()
        guard scanner.atEnd else { throw NumpyFormatError("malformed header: text after the dictionary") }
        for key in dict.keys where !["descr", "fortran_order", "shape"].contains(key) {
            throw NumpyFormatError("malformed header: unexpected key '\(key)'")
        }
        guard case let .string(descr)? = dict["descr"] else { throw NumpyFormatError("malformed header: 'descr' is missing or not a string") }
        guard case let .bool(fortran)? = dict["fortran_order"] else {
            throw NumpyFormatError("malformed header: 'fortran_order' is missing or not True/False")
        }
        guard case let .tuple(shape)? = dict["shape"] else { throw NumpyFormatError("malformed header: 'shape' is missing or not a tuple of integers") }
        return Fields(descr: descr, fortranOrder: fortran, shape: shape)
    }

    struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { position >= bytes.count }

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ character: Character) throws {
            skipSpace()
            guard position < bytes.count, bytes[position] == character.asciiValue! else {
                throw NumpyFormatError("malformed header: expected '\(character)' at offset \(position)")
            }
            position += 1
        }

        mutating func peek(_ character: Character) -> Bool {
            skipSpace()
            return position < bytes.count && bytes[position] == character.asciiValue!
        }

        mutating func dictionary() throws -> [String: Value] {
            try expect("{")
            var result: [String: Value] = [:]
            while !peek("}") {
                let key = try string()
                try expect(":")
                guard result[key] == nil else { throw NumpyFormatError("malformed header: key '\(key)' appears twice") }
                result[key] = try value()
                if peek(",") { position += 1 } else { break }
            }
            try expect("}")
            return result
        }

        mutating func string() throws -> String {
            skipSpace()
            guard position < bytes.count, bytes[position] == 0x27 || bytes[position] == 0x22 else {
                throw NumpyFormatError("malformed header: expected a quoted string at offset \(position)")
            }
            let quote = bytes[position]
            position += 1
            let start = position
            while position < bytes.count, bytes[position] != quote {
                guard bytes[position] != 0x5C else { throw NumpyFormatError("malformed header: escapes in strings are not supported") }
                position += 1
            }
            guard position < bytes.count else { throw NumpyFormatError("malformed header: unterminated string") }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            position += 1
            return text
        }

        mutating func word() -> String {
            skipSpace()
            let start = position
            while position < bytes.count, (bytes[position] >= 0x41 && bytes[position] <= 0x5A) || (bytes[position] >= 0x61 && bytes[position] <= 0x7A) {
                position += 1
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func integer() throws -> Int {
            skipSpace()
            let start = position
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
            guard position > start, let value = Int(String(decoding: bytes[start..<position], as: UTF8.self)) else {
                throw NumpyFormatError("malformed header: expected a non-negative integer in 'shape' at offset \(start)")
            }
            // Python 2 era files spell longs with an L suffix.
            if position < bytes.count, bytes[position] == 0x4C { position += 1 }
            return value
        }

        mutating func value() throws -> Value {
            skipSpace()
            if peek("'") || peek("\"") { return .string(try string()) }
            if peek("(") {
                position += 1
                var items: [Int] = []
                var sawComma = false
                while !peek(")") {
                    items.append(try integer())
                    sawComma = false
                    if peek(",") {
                        position += 1
                        sawComma = true
                    } else {
                        break
                    }
                }
                try expect(")")
                // `(5)` is the integer 5 in Python, not a tuple.
                guard items.count != 1 || sawComma else { throw NumpyFormatError("malformed header: 'shape' (\(items[0])) is not a tuple (write (\(items[0]),))") }
                return .tuple(items)
            }
            switch word() {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case let other: throw NumpyFormatError("malformed header: unexpected value '\(other)' at offset \(position)")
            }
        }
    }
}
