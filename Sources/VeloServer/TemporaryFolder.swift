import Foundation
import VeloKit

/// A private folder (mode 0700) in the temporary directory for one request's files (a transfer payload, an
/// export): they hold password and token hashes. Each is removed when its request or its streamed response ends;
/// a server killed meanwhile (kill -9, a crash) cannot, so folders are named after the server's process,
/// `velo-serve-<pid>-XXXXXX`, and the next server removes those whose process is gone.
enum TemporaryFolder {
    static let prefix = "velo-serve-"

    static func make(in directory: String = NSTemporaryDirectory()) throws -> String {
        let name = "\(prefix)\(getpid())-XXXXXX"
        var template = Array((directory as NSString).appendingPathComponent(name).utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw APIError.service("cannot create a temporary folder: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Removes the folders that servers no longer running left in `directory`, and returns their paths. A folder
    /// of a live process (this server's, another `velo serve`'s) is kept, and so is one whose name gives no
    /// process.
    @discardableResult
    static func removeAbandoned(in directory: String = NSTemporaryDirectory()) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }), pid > 0 else { continue }
            guard kill(pid, 0) != 0 && errno == ESRCH else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }
}
