import VeloFormat
import VeloRepository
import VeloStorage

/// `velo cat SNAPSHOT --file PATH`: one uploaded file of a snapshot, streamed out as it is read. The archive is
/// read to its end and checked whole (a damaged archive fails after the bytes were written, as `velo cat` of a
/// table does), so the exit status says whether what came out is what was backed up.
package enum FileCat {
    /// Streams the file at `relative` (as in the tenant's storage disk, e.g. `uploads/collections/posts/x.png`,
    /// or its entry path `files/…`) to `write`.
    /// - Throws: `.input` naming the snapshot's file count when it holds no such file; `ArchiveDamage`.
    package static func run(
        _ selected: SelectedSnapshot, file relative: String, write: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let entry = relative.hasPrefix(ArchiveFormat.filesPrefix) ? relative : ArchiveFormat.fileEntryPath(relative: relative)
        guard let entry else { throw VeloError("\(relative): not a relative file path (no empty, '.' or '..' components)", kind: .usage) }
        let reader = try SnapshotReader(selected)
        let handler = Handler(entry: entry, write: write)
        let manifest = try reader.scan(tables: [], files: handler) { _, _ in true }
        guard handler.found else {
            let count = manifest?.files.count ?? 0
            throw VeloError(
                "\(selected.archiveLocation): no file \(relative) in the snapshot (it holds \(count) uploaded file\(count == 1 ? "" : "s"); 'velo inspect' lists them)"
            )
        }
    }

    final class Handler: FileEntryHandler {
        let entry: String
        let output: (UnsafeRawBufferPointer) throws -> Void
        var found = false
        init(entry: String, write: @escaping (UnsafeRawBufferPointer) throws -> Void) {
            self.entry = entry
            output = write
        }
        func wants(_ entryPath: String) -> Bool { entryPath == entry }
        func begin(_ entryPath: String, size: Int64) throws { found = true }
        func write(_ bytes: UnsafeRawBufferPointer) throws { try output(bytes) }
        func end(_ entryPath: String, bytes: Int64, sha256: String) throws {}
    }
}
