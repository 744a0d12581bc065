import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Restores a snapshot's uploaded files (`files/…`) into a tenant's storage disk (`UploadsDisk`: a folder or a
/// bucket), in three steps a caller puts around the database restore so that nothing is half-applied: `plan`
/// compares every file with the target (missing: added; same size and SHA-256: unchanged; different: a
/// conflict, kept under skip and replaced under overwrite), `stage` writes the files to add or replace aside
/// (each checked against the manifest before it is ended: beside its target on a local disk, under
/// `.velo-restore-<nonce>/` in a bucket), and `commit` puts them in place (renames, or copies inside the
/// bucket), or `discard` deletes them when the database restore failed.
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
        /// The storage disk root the files go under (a folder, or `s3:…`).
        package var root: String
        package var strategy: RestorePlan.Strategy
        package var items: [Item]
        /// The disk itself.
        package var disk: any UploadsDisk
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

    /// Compares the manifest's files with what the disk holds.
    /// - Throws: `ArchiveDamage` for an entry whose path is not safe (`..`, absolute, encoded `/`); `.input` when
    ///   a target is a folder or a link, or a link on the way would lead the file out of the disk's root.
    package static func plan(
        manifest: Manifest, archive: String, disk: any UploadsDisk, strategy: RestorePlan.Strategy
    ) throws -> Plan {
        var paths: [String] = []
        for entry in manifest.files {
            guard let relative = ArchiveFormat.fileRelativePath(entry: entry.path) else {
                throw ArchiveDamage(
                    path: archive, entry: entry.path,
                    reason: "is not a safe file path (an empty, '.' or '..' component, an absolute path, an encoded '/' or NUL); refused")
            }
            paths.append(relative)
        }
        let targets = try disk.targets(paths)
        var items: [Item] = []
        for (index, entry) in manifest.files.enumerated() {
            let relative = paths[index]
            switch targets[index] {
            case .missing:
                items.append(Item(path: relative, action: .add, bytes: entry.bytes, entry: entry.path))
            case .file(let size):
                let same = try size == entry.bytes && disk.sha256(relative) == entry.sha256
                items.append(
                    Item(
                        path: relative, action: same ? .unchanged : (strategy == .overwrite ? .replace : .keep),
                        bytes: entry.bytes, entry: entry.path))
            }
        }
        return Plan(root: disk.root, strategy: strategy, items: items, disk: disk)
    }

    /// `plan` against a storage disk folder on this machine.
    package static func plan(manifest: Manifest, archive: String, root: String, strategy: RestorePlan.Strategy) throws -> Plan {
        try plan(manifest: manifest, archive: archive, disk: LocalUploads(root: root), strategy: strategy)
    }

    /// Files written aside, waiting for `commit` or `discard`.
    package final class Staged {
        package let plan: Plan
        let stager: any UploadStager
        private var done = false

        init(plan: Plan, stager: any UploadStager) {
            self.plan = plan
            self.stager = stager
        }

        /// Puts every staged file in place (renamed on a local disk, each atomic; copied inside the bucket).
        package func commit() throws {
            done = true
            try stager.commit()
        }

        /// Drops every staged file.
        package func discard() {
            guard !done else { return }
            done = true
            stager.discard()
        }

        deinit { discard() }
    }

    /// Streams the planned files out of `reader` (which must not have been scanned) beside their targets, and
    /// reads the archive to its end, which checks it whole. On any failure nothing staged is left.
    package static func stage(_ plan: Plan, manifest: Manifest, reader: SnapshotReader) throws -> Staged {
        let staged = Staged(plan: plan, stager: try plan.disk.stager())
        let handler = Writer(plan: plan, manifest: manifest, archive: reader.path, stager: staged.stager)
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

    /// The `FileEntryHandler` that hands the planned files to the disk's stager, each checked against the
    /// manifest before it is ended.
    final class Writer: FileEntryHandler {
        let archive: String
        let stager: any UploadStager
        let wanted: [String: (item: Item, listed: Manifest.Entry)]
        private(set) var pending: Set<String>

        init(plan: Plan, manifest: Manifest, archive: String, stager: any UploadStager) {
            self.archive = archive
            self.stager = stager
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
            try stager.begin(item.path)
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws { try stager.write(bytes) }

        func end(_ entryPath: String, bytes: Int64, sha256: String) throws {
            let listed = wanted[entryPath]!.listed
            guard sha256 == listed.sha256 else {
                stager.abandon()
                throw ArchiveDamage(path: archive, entry: entryPath, reason: "SHA-256 mismatch (the archive is damaged; run 'velo verify')")
            }
            try stager.end(mode: listed.mode, modified: listed.modified)
            pending.remove(entryPath)
        }

        /// Drops a file left open by a failure.
        func abandon() { stager.abandon() }
    }
}
