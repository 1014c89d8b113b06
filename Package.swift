// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-flash-attention",
    products: [
        .library(name: "FlashAttention", targets: ["FlashAttention"]),
        .executable(name: "flash-attn", targets: ["flash-attn"]),
        // The C ABI (flash_attention.h) as a shared library, for Python and other languages.
        .library(name: "flashattention", type: .dynamic, targets: ["FlashAttentionC"]),
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
        // dlopen of libcuda and NVRTC; knows nothing of attention.
        .target(name: "CUDADriver"),
        // Kernel descriptors, the CUDA source generator, the kernel cache and the CUDA backend.
        .target(name: "FlashAttentionCUDA", dependencies: ["FlashAttentionCore", "CUDADriver"]),
        // The float64 oracle every backend is checked against, error budgets and random problems
        // (tests, `flash-attn verify`, `flash-attn check`).
        .target(name: "FlashAttentionReference", dependencies: ["FlashAttentionCore"]),
        // What users import: the core types plus device selection over the backends.
        .target(name: "FlashAttention", dependencies: ["FlashAttentionCore", "FlashAttentionCPU", "FlashAttentionCUDA"]),
        // The command line's commands, as a library so tests can run them in process.
        .target(
            name: "FlashAttentionCLI",
            dependencies: [
                "FlashAttention", "FlashAttentionReference", "FlashAttentionRing", "FlashAttentionRingCUDA",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Context parallelism (ring and Ulysses schedules, zigzag sharding) over any communicator and device; CPU pieces.
        .target(name: "FlashAttentionRing", dependencies: ["FlashAttentionCore", "FlashAttentionCPU"]),
        // The same schedules on CUDA devices over NCCL.
        // NCCL's by-value unique id for dlsym'd ncclCommInitRank.
        .target(name: "CNCCLShim"),
        .target(name: "FlashAttentionRingCUDA", dependencies: ["FlashAttentionRing", "FlashAttentionCUDA", "CUDADriver", "CNCCLShim"]),
        .executableTarget(name: "flash-attn", dependencies: ["FlashAttentionCLI"]),
        // The stable C header, and its Swift implementation built as libflashattention.so.
        .target(name: "CFlashAttentionABI"),
        .target(name: "FlashAttentionC", dependencies: ["FlashAttention", "FlashAttentionCUDA", "CFlashAttentionABI"]),
        .testTarget(
            name: "FlashAttentionTests",
            dependencies: ["FlashAttention", "FlashAttentionCPU", "FlashAttentionReference", "CFlashKernels"]),
        .testTarget(name: "FlashAttentionCUDATests", dependencies: ["FlashAttentionCUDA", "CUDADriver", "FlashAttention", "FlashAttentionReference"]),
        .testTarget(name: "FlashAttentionRingTests", dependencies: ["FlashAttentionRing", "FlashAttentionCPU", "FlashAttentionReference", "FlashAttentionCUDA"]),
        .testTarget(name: "FlashAttentionCLITests", dependencies: ["FlashAttentionCLI", "FlashAttention", "FlashAttentionReference"]),
    ]
)
