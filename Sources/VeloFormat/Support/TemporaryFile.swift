import Foundation

/// Names of the files velo writes aside before renaming them into place, each carrying the writer's pid, and
/// the rule for when one is litter: its process is gone (kill -9, a power cut), so nothing will finish it.
package enum TemporaryFile {
    /// The pid at the end of `.name.tmp-<pid>`, `name.new-<pid>`, `name.velo-restore-<pid>`,
    /// `name.velo-import-<pid>` or `name.velo-<pid>.sqlite` (each with `-journal`, `-wal` or `-shm` allowed after it).
    package static func ownerPID(_ name: String) -> Int32? {
        for marker in [".tmp-", ".new-", ".velo-restore-", ".velo-import-", ".velo-"] {
            guard let range = name.range(of: marker, options: .backwards) else { continue }
            var rest = name[range.upperBound...]
            if marker == ".velo-" {
                for suffix in ["-journal", "-wal", "-shm"] where rest.hasSuffix(suffix) { rest = rest.dropLast(suffix.count) }
                guard rest.hasSuffix(".sqlite") else { continue }
                rest = rest.dropLast(7)
            }
            for suffix in ["-journal", "-wal", "-shm"] where rest.hasSuffix(suffix) { rest = rest.dropLast(suffix.count) }
            if let pid = Int32(rest), pid > 0 { return pid }
        }
        return nil
    }

    /// True when `name` is a temporary file of a process that no longer exists on this machine.
    package static func isLitter(_ name: String) -> Bool {
        guard let pid = ownerPID(name), pid != getpid() else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Removes what killed runs left beside `target`: `target<marker><pid>…` files of processes that are gone
    /// (`.velo-restore-` for a restore into a new file, `.velo-import-` for a transfer import into one, `.velo-`
    /// for `backup --from-payload`'s database, `.tmp-` for `velo demo`'s).
    /// `hidden`: the temporaries are `.<name><marker><pid>` (a `velo export`, a payload or a plan written aside).
    package static func removeLitter(beside target: String, marker: String = ".velo-restore-", hidden: Bool = false) {
        let directory = (target as NSString).deletingLastPathComponent
        let prefix = (hidden ? "." : "") + (target as NSString).lastPathComponent + marker
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
        where name.hasPrefix(prefix) && isLitter(name) {
            unlink((directory as NSString).appendingPathComponent(name))
            Diagnostics.info("\((directory as NSString).appendingPathComponent(name)): removed, left by a velo that is gone")
        }
    }
}
