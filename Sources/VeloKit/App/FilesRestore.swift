import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Restores a snapshot's uploaded files (`files/…`) into a tenant's storage disk root, in three steps a caller
/// puts around the database restore so that nothing is half-applied: `plan` compares every file with the
/// target (missing: added; same size and SHA-256: unchanged; different: a conflict, kept under skip and
/// replaced under overwrite), `stage` writes the files to add or replace beside their targets
/// (`<name>.velo-restore-<pid>`, checked against the manifest, with their mode and modification time), and
/// `commit` renames them into place, or `discard` deletes them when the database restore failed.
package enum FilesRestore {
    /// What happens to one file.
    package struct Item: Encodable, Sendable, Equatable {
        package enum Action: String, Encodable, Sendable {
            case add, unchanged
            /// The target has other content: kept (skip) or replaced (overwrite).
            case keep = "conflict-keep"
            case replace = "conflict-replace"
        }
        package var path: String
        package var action: Action
        package var bytes: Int64
        package var entry: String
    }

    package struct Plan: Encodable, Sendable {
        /// The storage disk root the files go under.
        package var root: String
        package var strategy: RestorePlan.Strategy
        package var items: [Item]
        package func count(_ action: Item.Action) -> Int { items.filter { $0.action == action }.count }
        /// The files that are written.
        package var writes: [Item] { items.filter { $0.action == .add || $0.action == .replace } }

        enum CodingKeys: String, CodingKey { case root, strategy, add, unchanged, conflicts, items }
        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(root, forKey: .root)
            try c.encode(strategy.rawValue, forKey: .strategy)
            try c.encode(count(.add), forKey: .add)
            try c.encode(count(.unchanged), forKey: .unchanged)
            try c.encode(count(.keep) + count(.replace), forKey: .conflicts)
            try c.encode(items.filter { $0.action != .unchanged }, forKey: .items)
        }
    }

    /// Compares the manifest's files with what is under `root`.
    /// - Throws: `ArchiveDamage` for an entry whose path is not safe (`..`, absolute, encoded `/`); `.input` when
    ///   a target is a folder or a link, or a link on the way would lead the file out of `root`.
    package static func plan(manifest: Manifest, archive: String, root: String, strategy: RestorePlan.Strategy) throws -> Plan {
        var items: [Item] = []
        for entry in manifest.files {
            guard let relative = ArchiveFormat.fileRelativePath(entry: entry.path) else {
                throw ArchiveDamage(
                    path: archive, entry: entry.path,
                    reason: "is not a safe file path (an empty, '.' or '..' component, an absolute path, an encoded '/' or NUL); refused")
            }
            let target = try safeTarget(root: root, relative: relative)
            var info = stat()
            if lstat(target, &info) != 0 {
                guard errno == ENOENT else { throw VeloError.io(target, "lstat", errno: errno) }
                items.append(Item(path: relative, action: .add, bytes: entry.bytes, entry: entry.path))
                continue
            }
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw VeloError("\(target): exists and is not a regular file; the snapshot has a file there")
            }
            let same = try Int64(info.st_size) == entry.bytes && sha256(of: target) == entry.sha256
            items.append(
                Item(
                    path: relative, action: same ? .unchanged : (strategy == .overwrite ? .replace : .keep),
                    bytes: entry.bytes, entry: entry.path))
        }
        return Plan(root: root, strategy: strategy, items: items)
    }

    /// `root/relative`, refusing a path whose folders on the way (inside `root`) are symbolic links or files.
    static func safeTarget(root: String, relative: String) throws -> String {
        var path = root
        let components = relative.split(separator: "/").map(String.init)
        for component in components.dropLast() {
            path = (path as NSString).appendingPathComponent(component)
            var info = stat()
            if lstat(path, &info) == 0 {
                if info.st_mode & S_IFMT == S_IFLNK {
                    throw VeloError("\(path): a symbolic link; velo does not restore files through links")
                }
                if info.st_mode & S_IFMT != S_IFDIR { throw VeloError("\(path): exists and is not a folder") }
            }
        }
        let target = (path as NSString).appendingPathComponent(components.last!)
        var info = stat()
        if lstat(target, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
            throw VeloError("\(target): a symbolic link; velo does not restore files through links")
        }
        return target
    }

    static func sha256(of path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw VeloError.io(path, "open", errno: errno) }
        defer { close(fd) }
        var digest = SHA256Digest()
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw VeloError.io(path, "read", errno: errno) }
            if n == 0 { break }
            chunk.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return digest.hex()
    }

    /// Files written aside, waiting for `commit` or `discard`.
    package final class Staged {
        package let plan: Plan
        /// Temporary path → final path.
        fileprivate(set) var written: [(temporary: String, target: String)] = []
        private var committed = false

        init(plan: Plan) { self.plan = plan }

        /// Renames every staged file into place (each rename atomic; folders fsynced).
        package func commit() throws {
            var folders = Set<String>()
            for file in written {
                try FileSystem.rename(file.temporary, to: file.target)
                folders.insert((file.target as NSString).deletingLastPathComponent)
            }
            for folder in folders { FileSystem.syncDirectory(folder) }
            committed = true
        }

        /// Deletes every staged file.
        package func discard() {
            guard !committed else { return }
            for file in written { unlink(file.temporary) }
            written = []
        }

        deinit { discard() }
    }

    /// Streams the planned files out of `reader` (which must not have been scanned) beside their targets, and
    /// reads the archive to its end, which checks it whole. On any failure nothing staged is left.
    package static func stage(_ plan: Plan, manifest: Manifest, reader: SnapshotReader) throws -> Staged {
        let staged = Staged(plan: plan)
        let handler = Writer(plan: plan, manifest: manifest, archive: reader.path, staged: staged)
        do {
            _ = try reader.scan(tables: [], files: handler) { _, _ in true }
            guard handler.pending.isEmpty else {
                throw ArchiveDamage(
                    path: reader.path, entry: handler.pending.sorted().first,
                    reason: "is listed in the manifest but missing from the archive")
            }
        } catch {
            handler.abandon()
            staged.discard()
            throw error
        }
        return staged
    }

    /// The `FileEntryHandler` that writes staged files.
    final class Writer: FileEntryHandler {
        let archive: String
        let staged: Staged
        let wanted: [String: (item: Item, listed: Manifest.Entry)]
        private(set) var pending: Set<String>
        private var fd: Int32 = -1
        private var current: (temporary: String, target: String)?

        init(plan: Plan, manifest: Manifest, archive: String, staged: Staged) {
            self.archive = archive
            self.staged = staged
            let listed = Dictionary(manifest.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            var wanted: [String: (item: Item, listed: Manifest.Entry)] = [:]
            for item in plan.writes { if let entry = listed[item.entry] { wanted[item.entry] = (item, entry) } }
            self.wanted = wanted
            pending = Set(wanted.keys)
        }

        func wants(_ entryPath: String) -> Bool { wanted[entryPath] != nil }

        func begin(_ entryPath: String, size: Int64) throws {
            let (item, listed) = wanted[entryPath]!
            guard size == listed.bytes else {
                throw ArchiveDamage(path: archive, entry: entryPath, reason: "is \(size) bytes, the manifest says \(listed.bytes)")
            }
            let target = try FilesRestore.safeTarget(root: staged.plan.root, relative: item.path)
            try FileSystem.createDirectory((target as NSString).deletingLastPathComponent)
            TemporaryFile.removeLitter(beside: target)
            let temporary = target + ".velo-restore-\(getpid())"
            unlink(temporary)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw VeloError.io(temporary, "create", errno: errno) }
            current = (temporary, target)
            staged.written.append((temporary, target))
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count {
                let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 { if errno == EINTR { continue }; throw VeloError.io(current!.temporary, "write", errno: errno) }
                offset += n
            }
        }

        func end(_ entryPath: String, bytes: Int64, sha256: String) throws {
            let listed = wanted[entryPath]!.listed
            defer { close(fd); fd = -1 }
            guard sha256 == listed.sha256 else {
                throw ArchiveDamage(path: archive, entry: entryPath, reason: "SHA-256 mismatch (the archive is damaged; run 'velo verify')")
            }
            let temporary = current!.temporary
            guard fchmod(fd, mode_t(listed.mode ?? 0o644) & 0o7777) == 0 else { throw VeloError.io(temporary, "chmod", errno: errno) }
            guard fsync(fd) == 0 else { throw VeloError.io(temporary, "fsync", errno: errno) }
            if let modified = listed.modified {
                let time = timespec(tv_sec: time_t(modified / 1_000_000_000), tv_nsec: Int(modified % 1_000_000_000))
                var times = [time, time]
                guard futimens(fd, &times) == 0 else { throw VeloError.io(temporary, "set the modification time of", errno: errno) }
            }
            pending.remove(entryPath)
            current = nil
        }

        /// Closes a file left open by a failure.
        func abandon() {
            if fd >= 0 { close(fd); fd = -1 }
        }
    }
}
