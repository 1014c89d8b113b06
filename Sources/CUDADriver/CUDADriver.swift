/// Placeholder: the CUDA driver loader lands with the CUDA backend.
public enum CUDADriverPlaceholder {}
