/// The result of one NVRTC compile.
public struct NVRTCOutput: Sendable {
    /// The cubin (for a real `sm_` architecture) or PTX (for `compute_`).
    public var image: [UInt8]
    public var isPTX: Bool
    /// The compiler's log: warnings, and ptxas's resource report when `-Xptxas -v` was given.
    public var log: String
}

/// Compiles CUDA C++ source with NVRTC.
public enum NVRTC {
    /// Compiles `source` with `options` (e.g. `--gpu-architecture=sm_90a`).
    ///
    /// A compile error throws ``CUDAError/nvrtc(function:code:name:log:)`` whose log holds the
    /// compiler's messages.
    public static func compile(source: String, name: String, options: [String]) throws -> NVRTCOutput {
        let api = try CUDA.nvrtc()
        var program: CUhandle?
        try api.check(api.nvrtcCreateProgram(&program, source, name, 0, nil, nil), "nvrtcCreateProgram")
        defer { _ = api.nvrtcDestroyProgram(&program) }

        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let compileCode = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer { buffer in
            api.nvrtcCompileProgram(program, Int32(buffer.count), buffer.baseAddress)
        }
        let log = try programLog(api, program)
        try api.check(compileCode, "nvrtcCompileProgram(\(name))", log: log)

        let isPTX = !options.contains { $0.contains("=sm_") || $0.hasPrefix("-arch=sm_") }
        var size = 0
        if isPTX {
            try api.check(api.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize")
        } else {
            try api.check(api.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize")
        }
        var image = [UInt8](repeating: 0, count: size)
        try image.withUnsafeMutableBytes { raw in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            if isPTX {
                try api.check(api.nvrtcGetPTX(program, pointer), "nvrtcGetPTX")
            } else {
                try api.check(api.nvrtcGetCUBIN(program, pointer), "nvrtcGetCUBIN")
            }
        }
        if isPTX, image.last == 0 { image.removeLast() }
        return NVRTCOutput(image: image, isPTX: isPTX, log: log)
    }

    private static func programLog(_ api: NVRTCAPI, _ program: CUhandle?) throws -> String {
        var size = 0
        try api.check(api.nvrtcGetProgramLogSize(program, &size), "nvrtcGetProgramLogSize")
        guard size > 1 else { return "" }
        var buffer = [CChar](repeating: 0, count: size + 1)
        try api.check(api.nvrtcGetProgramLog(program, &buffer), "nvrtcGetProgramLog")
        return decodeCString(buffer)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
