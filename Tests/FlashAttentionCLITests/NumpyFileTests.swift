import FlashAttention
import Foundation
import Testing

import FlashAttentionCLI

/// A .npy file built by hand: any version, any header text, any data.
func npyFile(major: UInt8 = 1, header: String, data: [UInt8]) -> [UInt8] {
    let text = Array(header.utf8)
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
    if major == 1 {
        out += [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
    } else {
        out += [UInt8(text.count & 0xFF), UInt8(text.count >> 8), 0, 0]
    }
    return out + text + data
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}

@Suite struct NumpyFileTests {
    @Test func float32RoundTrip() throws {
        let values: [Float] = [1, -2.5, .infinity, 0x1p-140, 3, 4]
        let array = NumpyArray(shape: [2, 3], float32: values)
        let bytes = array.npyBytes()
        #expect(bytes.count % 64 == 24)  // header padded so the data starts on a 64-byte boundary
        let back = try NumpyArray(npyBytes: bytes)
        #expect(back == array)
        #expect(back.floats() == values)
    }

    @Test func float16ReadsAndConverts() throws {
        let halves: [Float16] = [1, -0.5, 65504, 0x1p-24]
        let data = halves.flatMap { h in withUnsafeBytes(of: h.bitPattern.littleEndian) { Array($0) } }
        let file = npyFile(header: "{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }\n", data: data)
        let array = try NumpyArray(npyBytes: file)
        #expect(array.element == .float16)
        #expect(array.floats() == halves.map(Float.init))
        // Into each kernel precision.
        #expect(array.tensor(as: .float16).floats() == halves.map(Float.init))
        #expect(array.tensor(as: .bfloat16).floats()[1] == -0.5)
        #expect(array.tensor(as: .float32).floats() == halves.map(Float.init))
    }

    @Test func float16RoundTrip() throws {
        let halves: [Float16] = [0.25, -3, .infinity, 1e-4]
        let data = halves.flatMap { h in withUnsafeBytes(of: h.bitPattern.littleEndian) { Array($0) } }
        let array = NumpyArray(shape: [2, 2], element: .float16, bytes: data)
        let bytes = array.npyBytes()
        #expect(String(decoding: bytes, as: UTF8.self).contains("'descr': '<f2'"))
        let back = try NumpyArray(npyBytes: bytes)
        #expect(back == array)
        #expect(back.floats() == halves.map(Float.init))
    }

    @Test func zeroAndOneDimensional() throws {
        let scalar = NumpyArray(shape: [], float32: [7])
        let scalarBack = try NumpyArray(npyBytes: scalar.npyBytes())
        #expect(scalarBack.shape == [] && scalarBack.floats() == [7])
        let vector = NumpyArray(shape: [3], float32: [1, 2, 3])
        #expect(String(decoding: vector.npyBytes(), as: UTF8.self).contains("'shape': (3,)"))
        #expect(try NumpyArray(npyBytes: vector.npyBytes()) == vector)
        let empty = NumpyArray(shape: [2, 0, 4], float32: [])
        #expect(try NumpyArray(npyBytes: empty.npyBytes()) == empty)
    }

    @Test func versionTwoAndThreeHeadersAndByteOrderMarks() throws {
        let data = floatBytes([1, 2])
        for major: UInt8 in [2, 3] {
            let file = npyFile(major: major, header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", data: data)
            #expect(try NumpyArray(npyBytes: file).floats() == [1, 2])
        }
        for descr in ["=f4", "|f4"] {
            let file = npyFile(header: "{\"shape\": (1, 2), \"descr\": \"\(descr)\", \"fortran_order\": False}", data: data)
            #expect(try NumpyArray(npyBytes: file).shape == [1, 2])
        }
        // A large header is written as version 2.0 and read back.
        let wide = NumpyArray(shape: [Int](repeating: 1, count: 30000), float32: [5])
        let bytes = wide.npyBytes()
        #expect(bytes[6] == 2)
        #expect(try NumpyArray(npyBytes: bytes) == wide)
    }

    @Test(arguments: [
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", "'<f8' is not supported"),
        ("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "big-endian"),
        ("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "fortran_order"),
        ("{'descr': '<f4', 'shape': (2,), }", "'fortran_order' is missing"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", "not a tuple"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "non-negative integer"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", "after the dictionary"),
        ("['descr']", "expected '{'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr': '<f4'}", "appears twice"),
    ])
    func malformedHeadersAreRefused(header: String, reason: String) {
        let file = npyFile(header: header + "\n", data: floatBytes([1, 2]))
        #expect {
            try NumpyArray(npyBytes: file)
        } throws: { error in
            String(describing: error).contains(reason)
        }
    }

    @Test func truncatedAndPaddedFilesAreRefused() {
        let good = NumpyArray(shape: [2, 3], float32: [1, 2, 3, 4, 5, 6]).npyBytes()
        for cut in [1, 4, 24, good.count - 70, good.count - 64] {
            #expect(throws: NumpyFormatError.self) { try NumpyArray(npyBytes: Array(good.prefix(cut))) }
        }
        #expect { try NumpyArray(npyBytes: Array(good.dropLast())) } throws: { "\($0)".contains("truncated") }
        #expect { try NumpyArray(npyBytes: good + [0]) } throws: { "\($0)".contains("unexpected bytes") }
        var badMagic = good
        badMagic[1] = 0x4D
        #expect { try NumpyArray(npyBytes: badMagic) } throws: { "\($0)".contains("magic") }
        var badVersion = good
        badVersion[6] = 4
        #expect { try NumpyArray(npyBytes: badVersion) } throws: { "\($0)".contains("version 4.0") }
    }
}
