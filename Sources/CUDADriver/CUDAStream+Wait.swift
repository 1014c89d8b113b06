extension CUDAStream {
    /// Makes work queued on this stream after the call wait for `event` (recorded on any
    /// stream of the context) without blocking the host: how a compute stream and a
    /// communication stream order against each other.
    public func wait(for event: CUDAEvent) throws {
        let api = try CUDA.driver()
        try api.check(api.cuStreamWaitEvent(handle, event.handle, 0), "cuStreamWaitEvent")
    }
}
