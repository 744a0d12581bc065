import Foundation
import VeloFormat

/// A repository's scratch folder (`RepositoryStorage.scratchDirectory`), emptied by the next writer: what a run
/// left there is litter, except what a process still running keeps there under its pid (`velo replicate`'s
/// spool folder, `velo-capture.tmp-<pid>`, lives as long as the process and never takes the repository lock).
package enum ScratchFolder {
    /// Removes everything in `folder` but the entries whose name carries the pid of a live process.
    package static func empty(_ folder: String) { remove(in: folder) { _ in true } }

    /// Removes the entries of `folder` starting with `prefix` whose process is gone (what a killed run left).
    package static func removeAbandoned(in folder: String, prefix: String) {
        remove(in: folder) { $0.hasPrefix(prefix) && TemporaryFile.ownerPID($0) != nil }
    }

    private static func remove(in folder: String, where chosen: (String) -> Bool) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where chosen(name) {
            if let pid = TemporaryFile.ownerPID(name), pid == getpid() || kill(pid, 0) == 0 || errno == EPERM { continue }
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
        }
    }
}
