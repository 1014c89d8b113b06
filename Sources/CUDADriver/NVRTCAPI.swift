/// The NVRTC entry points this package uses, resolved once with `dlsym`.
final class NVRTCAPI: @unchecked Sendable {
    typealias Result = Int32
    let library: DynamicLibrary

    let nvrtcGetErrorString: @convention(c) (Result) -> UnsafePointer<CChar>?
    let nvrtcVersion: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Result
    let nvrtcCreateProgram: @convention(c) (
        UnsafeMutablePointer<CUhandle?>, UnsafePointer<CChar>, UnsafePointer<CChar>?, Int32,
        UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?
    ) -> Result
    let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<CUhandle?>) -> Result
    let nvrtcCompileProgram: @convention(c) (CUhandle?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    let nvrtcGetProgramLogSize: @convention(c) (CUhandle?, UnsafeMutablePointer<Int>) -> Result
    let nvrtcGetProgramLog: @convention(c) (CUhandle?, UnsafeMutablePointer<CChar>) -> Result
    let nvrtcGetCUBINSize: @convention(c) (CUhandle?, UnsafeMutablePointer<Int>) -> Result
    let nvrtcGetCUBIN: @convention(c) (CUhandle?, UnsafeMutablePointer<CChar>) -> Result
    let nvrtcGetPTXSize: @convention(c) (CUhandle?, UnsafeMutablePointer<Int>) -> Result
    let nvrtcGetPTX: @convention(c) (CUhandle?, UnsafeMutablePointer<CChar>) -> Result
    let nvrtcGetNumSupportedArchs: (@convention(c) (UnsafeMutablePointer<Int32>) -> Result)?
    let nvrtcGetSupportedArchs: (@convention(c) (UnsafeMutablePointer<Int32>) -> Result)?

    init(library: DynamicLibrary) throws {
        self.library = library
        nvrtcGetErrorString = try library.function("nvrtcGetErrorString")
        nvrtcVersion = try library.function("nvrtcVersion")
        nvrtcCreateProgram = try library.function("nvrtcCreateProgram")
        nvrtcDestroyProgram = try library.function("nvrtcDestroyProgram")
        nvrtcCompileProgram = try library.function("nvrtcCompileProgram")
        nvrtcGetProgramLogSize = try library.function("nvrtcGetProgramLogSize")
        nvrtcGetProgramLog = try library.function("nvrtcGetProgramLog")
        nvrtcGetCUBINSize = try library.function("nvrtcGetCUBINSize")
        nvrtcGetCUBIN = try library.function("nvrtcGetCUBIN")
        nvrtcGetPTXSize = try library.function("nvrtcGetPTXSize")
        nvrtcGetPTX = try library.function("nvrtcGetPTX")
        nvrtcGetNumSupportedArchs = library.optionalFunction("nvrtcGetNumSupportedArchs")
        nvrtcGetSupportedArchs = library.optionalFunction("nvrtcGetSupportedArchs")
    }

    func errorName(_ code: Result) -> String {
        nvrtcGetErrorString(code).map { String(cString: $0) } ?? "NVRTC_ERROR_\(code)"
    }

    func check(_ code: Result, _ function: @autoclosure () -> String, log: @autoclosure () -> String = "") throws {
        if code != 0 {
            throw CUDAError.nvrtc(function: function(), code: code, name: errorName(code), log: log())
        }
    }
}
