/// Opaque driver handles (`CUcontext`, `CUmodule`, `CUfunction`, `CUstream`, `CUevent`).
public typealias CUhandle = UnsafeMutableRawPointer
/// A device address (`CUdeviceptr`).
public typealias CUdeviceptr = UInt64

/// The libcuda entry points this package uses, resolved once with `dlsym`.
///
/// Types follow `cuda.h` (CUresult and enums are `Int32`, `size_t` is `Int`), written out here
/// so that nothing from the CUDA toolkit is needed at build time. The versioned names (`_v2`)
/// are the ones current headers map the plain names to.
final class DriverAPI: @unchecked Sendable {
    typealias Result = Int32
    let library: DynamicLibrary

    let cuInit: @convention(c) (UInt32) -> Result
    let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuGetErrorName: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result
    let cuGetErrorString: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result
    let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Result
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Result
    let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Result
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<CUhandle?>, Int32) -> Result
    let cuDevicePrimaryCtxRelease: @convention(c) (Int32) -> Result
    let cuCtxSetCurrent: @convention(c) (CUhandle?) -> Result
    let cuCtxGetCurrent: @convention(c) (UnsafeMutablePointer<CUhandle?>) -> Result
    let cuCtxSynchronize: @convention(c) () -> Result
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<CUhandle?>, UnsafeRawPointer) -> Result
    let cuModuleUnload: @convention(c) (CUhandle?) -> Result
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<CUhandle?>, CUhandle?, UnsafePointer<CChar>) -> Result
    let cuFuncGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, CUhandle?) -> Result
    let cuFuncSetAttribute: @convention(c) (CUhandle?, Int32, Int32) -> Result
    let cuLaunchKernel: @convention(c) (
        CUhandle?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, CUhandle?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> Result
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<CUdeviceptr>, Int) -> Result
    let cuMemFree: @convention(c) (CUdeviceptr) -> Result
    let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Result
    let cuMemcpyHtoDAsync: @convention(c) (CUdeviceptr, UnsafeRawPointer, Int, CUhandle?) -> Result
    let cuMemcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer, CUdeviceptr, Int, CUhandle?) -> Result
    let cuMemcpyDtoDAsync: @convention(c) (CUdeviceptr, CUdeviceptr, Int, CUhandle?) -> Result
    let cuMemsetD8Async: @convention(c) (CUdeviceptr, UInt8, Int, CUhandle?) -> Result
    let cuStreamCreate: @convention(c) (UnsafeMutablePointer<CUhandle?>, UInt32) -> Result
    let cuStreamDestroy: @convention(c) (CUhandle?) -> Result
    let cuStreamSynchronize: @convention(c) (CUhandle?) -> Result
    let cuEventCreate: @convention(c) (UnsafeMutablePointer<CUhandle?>, UInt32) -> Result
    let cuEventDestroy: @convention(c) (CUhandle?) -> Result
    let cuEventRecord: @convention(c) (CUhandle?, CUhandle?) -> Result
    let cuEventSynchronize: @convention(c) (CUhandle?) -> Result
    let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, CUhandle?, CUhandle?) -> Result
    let cuStreamWaitEvent: @convention(c) (CUhandle?, CUhandle?, UInt32) -> Result
    let cuPointerGetAttribute: @convention(c) (UnsafeMutableRawPointer, Int32, CUdeviceptr) -> Result
    /// `cuTensorMapEncodeTiled` (CUDA 12+ drivers; nil on older ones): TMA descriptors for sm_90.
    let cuTensorMapEncodeTiled: (@convention(c) (
        UnsafeMutableRawPointer, Int32, UInt32, UnsafeMutableRawPointer?, UnsafePointer<UInt64>, UnsafePointer<UInt64>,
        UnsafePointer<UInt32>, UnsafePointer<UInt32>, Int32, Int32, Int32, Int32
    ) -> Result)?

    init(library: DynamicLibrary) throws {
        self.library = library
        cuInit = try library.function("cuInit")
        cuDriverGetVersion = try library.function("cuDriverGetVersion")
        cuGetErrorName = try library.function("cuGetErrorName")
        cuGetErrorString = try library.function("cuGetErrorString")
        cuDeviceGetCount = try library.function("cuDeviceGetCount")
        cuDeviceGet = try library.function("cuDeviceGet")
        cuDeviceGetName = try library.function("cuDeviceGetName")
        cuDeviceGetAttribute = try library.function("cuDeviceGetAttribute")
        cuDeviceTotalMem = try library.function("cuDeviceTotalMem_v2")
        cuDevicePrimaryCtxRetain = try library.function("cuDevicePrimaryCtxRetain")
        cuDevicePrimaryCtxRelease = try library.function("cuDevicePrimaryCtxRelease_v2")
        cuCtxSetCurrent = try library.function("cuCtxSetCurrent")
        cuCtxGetCurrent = try library.function("cuCtxGetCurrent")
        cuCtxSynchronize = try library.function("cuCtxSynchronize")
        cuModuleLoadData = try library.function("cuModuleLoadData")
        cuModuleUnload = try library.function("cuModuleUnload")
        cuModuleGetFunction = try library.function("cuModuleGetFunction")
        cuFuncGetAttribute = try library.function("cuFuncGetAttribute")
        cuFuncSetAttribute = try library.function("cuFuncSetAttribute")
        cuLaunchKernel = try library.function("cuLaunchKernel")
        cuMemAlloc = try library.function("cuMemAlloc_v2")
        cuMemFree = try library.function("cuMemFree_v2")
        cuMemGetInfo = try library.function("cuMemGetInfo_v2")
        cuMemcpyHtoDAsync = try library.function("cuMemcpyHtoDAsync_v2")
        cuMemcpyDtoHAsync = try library.function("cuMemcpyDtoHAsync_v2")
        cuMemcpyDtoDAsync = try library.function("cuMemcpyDtoDAsync_v2")
        cuMemsetD8Async = try library.function("cuMemsetD8Async")
        cuStreamCreate = try library.function("cuStreamCreate")
        cuStreamDestroy = try library.function("cuStreamDestroy_v2")
        cuStreamSynchronize = try library.function("cuStreamSynchronize")
        cuEventCreate = try library.function("cuEventCreate")
        cuEventDestroy = try library.function("cuEventDestroy_v2")
        cuEventRecord = try library.function("cuEventRecord")
        cuEventSynchronize = try library.function("cuEventSynchronize")
        cuEventElapsedTime = try library.function("cuEventElapsedTime")
        cuStreamWaitEvent = try library.function("cuStreamWaitEvent")
        cuPointerGetAttribute = try library.function("cuPointerGetAttribute")
        cuTensorMapEncodeTiled = library.optionalFunction("cuTensorMapEncodeTiled")
    }

    /// `CUDA_ERROR_…` for a result code.
    func errorName(_ code: Result) -> String {
        var name: UnsafePointer<CChar>?
        return cuGetErrorName(code, &name) == 0 ? name.map { String(cString: $0) } ?? "CUDA_ERROR_\(code)" : "CUDA_ERROR_\(code)"
    }

    func errorString(_ code: Result) -> String {
        var text: UnsafePointer<CChar>?
        return cuGetErrorString(code, &text) == 0 ? text.map { String(cString: $0) } ?? "" : ""
    }

    /// Turns a result code into a thrown ``CUDAError/driver(function:code:name:message:)``.
    /// Every driver call in this package goes through here.
    @inline(__always)
    func check(_ code: Result, _ function: @autoclosure () -> String) throws {
        if code != 0 {
            throw CUDAError.driver(function: function(), code: code, name: errorName(code), message: errorString(code))
        }
    }
}
