import FlashAttentionCore
/// Placeholder: the CUDA backend lands with issue 3.
public enum FlashAttentionCUDAPlaceholder {}
