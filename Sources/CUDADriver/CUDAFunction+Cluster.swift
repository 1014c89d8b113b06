/// Thread-block cluster attributes of a kernel (sm_90).
extension CUDAFunction {
    /// Lets the kernel launch with clusters of more than the portable 8 CTAs (up to 16 on an
    /// H100): `CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED`. Needed before a launch of a
    /// kernel compiled with `__cluster_dims__` above 8.
    public func allowNonPortableClusterSize() throws {
        let api = try CUDA.driver()
        try api.check(api.cuFuncSetAttribute(handle, 14, 1), "cuFuncSetAttribute(non-portable cluster size allowed)")
    }
}
