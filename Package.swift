// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-flash-attention",
    products: [
        .library(name: "FlashAttention", targets: ["FlashAttention"]),
        .executable(name: "flash-attn", targets: ["flash-attn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Public types, semantics and validation; backend-agnostic.
        .target(name: "FlashAttentionCore"),
        // SIMD microkernels in C, compiled per function for AVX-512 / AVX2 / baseline and picked at run time.
        .target(name: "CFlashKernels"),
        // Tiled online-softmax forward and backward on all cores.
        .target(name: "FlashAttentionCPU", dependencies: ["FlashAttentionCore", "CFlashKernels"]),
        // The float64 oracle every backend is checked against (tests and `flash-attn verify`).
        .target(name: "FlashAttentionReference", dependencies: ["FlashAttentionCore"]),
        // What users import: the core types plus device selection over the backends.
        .target(name: "FlashAttention", dependencies: ["FlashAttentionCore", "FlashAttentionCPU"]),
        .executableTarget(
            name: "flash-attn",
            dependencies: [
                "FlashAttention", "FlashAttentionReference",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(
            name: "FlashAttentionTests",
            dependencies: ["FlashAttention", "FlashAttentionCPU", "FlashAttentionReference"]),
    ]
)
