import FlashAttention
import Testing

/// ``Tensor``'s value initialiser reports bad sizes as errors naming the argument, never a trap.
@Suite struct TensorTests {
    @Test func valuesAreStoredRowMajorAndRounded() throws {
        let tensor = try Tensor(shape: [2, 3], elementType: .bfloat16, values: [1, 2, 3, 4, 5, 1.00390625])
        #expect(tensor.floats() == [1, 2, 3, 4, 5, 1])  // 1 + 2^-8 rounds to even in bfloat16
        #expect(try Tensor(shape: [0, 4], values: []).elementCount == 0)
    }

    @Test func badSizesAreNamed() {
        #expect(throws: FlashAttentionError.invalidArgument(name: "values", expected: "6 values (the product of shape [2, 3]), got 5")) {
            try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5])
        }
        #expect(throws: FlashAttentionError.invalidArgument(name: "shape", expected: "non-negative sizes, got [2, -3]")) {
            try Tensor(shape: [2, -3], values: [])
        }
        #expect(throws: FlashAttentionError.invalidArgument(name: "shape", expected: "sizes whose product fits in Int, got [\(Int.max), 2]")) {
            try Tensor(shape: [Int.max, 2], values: [])
        }
    }
}
