import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes a set of output files all-or-nothing, as far as the file system allows: every file
/// goes to a temporary name next to its destination first, and only when all of them are
/// written are they renamed into place. On any failure the temporaries are removed, so a failed
/// command leaves no half-written output behind.
struct OutputFiles {
    /// (flag, destination path, contents)
    private var pending: [(flag: String, path: String, bytes: [UInt8])] = []

    mutating func add(flag: String, path: String, bytes: [UInt8]) {
        pending.append((flag, path, bytes))
    }

    /// Checks, before any work is done, that each destination can be written: its directory
    /// exists and is writable, it is not a directory, and no two flags name the same file.
    static func checkWritable(_ destinations: [(flag: String, path: String)]) throws {
        var seen: [String: String] = [:]
        for (flag, path) in destinations {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            if let other = seen[absolute] { throw CLIError(flag, "a path different from \(other)'s, got '\(path)' for both") }
            seen[absolute] = flag
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw CLIError(flag, "a file path, got the directory '\(path)'")
            }
            let directory = (absolute as NSString).deletingLastPathComponent
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                throw CLIError(flag, "a path in an existing directory, got '\(path)' ('\(directory)' does not exist)")
            }
            guard access(directory, W_OK) == 0 else { throw CLIError(flag, "a path in a writable directory, got '\(path)'") }
        }
    }

    /// Writes every file to a temporary, then renames them all into place.
    func commit() throws {
        var temporaries: [(flag: String, temp: String, path: String)] = []
        do {
            for (flag, path, bytes) in pending {
                let temp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
                temporaries.append((flag, temp, path))
                guard FileManager.default.createFile(atPath: temp, contents: Data(bytes)) else {
                    throw CLIError(flag, "a writable path, could not write '\(path)'")
                }
            }
            for (flag, temp, path) in temporaries {
                guard rename(temp, path) == 0 else {
                    throw CLIError(flag, "a writable path, could not rename a temporary onto '\(path)': \(String(cString: strerror(errno)))")
                }
            }
        } catch {
            for (_, temp, _) in temporaries { unlink(temp) }
            throw error
        }
    }
}
