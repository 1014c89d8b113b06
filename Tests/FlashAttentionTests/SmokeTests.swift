import Testing
import FlashAttention

@Test func elementTypeNames() {
    #expect(ElementType(name: "bf16") == .bfloat16)
}
