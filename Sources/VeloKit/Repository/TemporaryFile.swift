import Foundation

/// Names of the files velo writes aside before renaming them into place, each carrying the writer's pid, and
/// the rule for when one is litter: its process is gone (kill -9, a power cut), so nothing will finish it.
enum TemporaryFile {
    /// The pid at the end of `.name.tmp-<pid>`, `name.new-<pid>` or `name.velo-restore-<pid>[-journal|-wal|-shm]`.
    static func ownerPID(_ name: String) -> Int32? {
        for marker in [".tmp-", ".new-", ".velo-restore-"] {
            guard let range = name.range(of: marker, options: .backwards) else { continue }
            var rest = name[range.upperBound...]
            for suffix in ["-journal", "-wal", "-shm"] where rest.hasSuffix(suffix) { rest = rest.dropLast(suffix.count) }
            if let pid = Int32(rest), pid > 0 { return pid }
        }
        return nil
    }

    /// True when `name` is a temporary file of a process that no longer exists on this machine.
    static func isLitter(_ name: String) -> Bool {
        guard let pid = ownerPID(name), pid != getpid() else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Removes what killed restores left beside `target` (`target.velo-restore-<pid>` and its journal files).
    static func removeRestoreLitter(beside target: String) {
        let directory = (target as NSString).deletingLastPathComponent
        let prefix = (target as NSString).lastPathComponent + ".velo-restore-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
        where name.hasPrefix(prefix) && isLitter(name) {
            unlink((directory as NSString).appendingPathComponent(name))
            Diagnostics.info("\((directory as NSString).appendingPathComponent(name)): removed, left by a killed restore")
        }
    }
}
