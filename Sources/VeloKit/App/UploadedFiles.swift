import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A tenant's uploaded files on its storage disk (`UploadsDisk`: a local folder or an S3 bucket): the files
/// under its `uploads/` folder (or the selected collections' folders), found by the disk's walk, and written
/// into a full snapshot as `files/…` entries, each streamed from the disk with its size, SHA-256, mode and
/// modification time in the manifest (incremental snapshots store them through `FileSegmentWriter`).
package struct UploadedFiles: Sendable {
    /// One regular file found by the walk.
    package struct File: Sendable, Equatable {
        /// Relative to the disk root, e.g. `uploads/collections/posts/4f….png`.
        package var relative: String
        package var size: Int64
        /// What the walk learned of its modification time (nanoseconds), when it did (a bucket's listing).
        package var modified: Int64?
        /// The version the walk saw (an S3 object's ETag); the one read.
        package var version: String?

        package init(relative: String, size: Int64, modified: Int64? = nil, version: String? = nil) {
            self.relative = relative
            self.size = size
            self.modified = modified
            self.version = version
        }
    }

    /// The tenant's storage disk.
    package var disk: any UploadsDisk
    /// The folders under the root that are backed up: `uploads`, or with `collections`, only those
    /// collections' upload folders (`uploads/collections/<name>`, the name made safe as Veloquent's
    /// `FileFieldProcessor` does).
    package var folders = ["uploads"]

    package init(disk: any UploadsDisk, collections: [String]? = nil) {
        self.disk = disk
        if let collections {
            // Sorted, so that the walk is in `walkKey` order whatever order the collections were named in.
            folders = Set(
                collections.map { name in
                    "uploads/collections/"
                        + String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber) || $0 == "_" || $0 == "-" ? $0 : "_" })
                }
            ).sorted { Self.walkKey($0).lexicographicallyPrecedes(Self.walkKey($1)) }
        }
    }

    /// The order of `walk()`: path components compared one by one (a folder's names are sorted, and a folder's
    /// files come before the next name), so two walks of the same tree can be read in step.
    package static func walkKey(_ relative: String) -> [String] {
        relative.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }

    /// The regular files of the upload folders, in `walkKey` order. What the disk cannot back up (a link, a
    /// special file, a name velo cannot store) is returned in `skipped` with the reason, for the caller to report.
    package func walk() throws -> (files: [File], skipped: [String]) { try disk.walk(folders) }

    /// Streams `files` into `writer` as `files/…` entries and returns their manifest entries. A file that
    /// changed meanwhile fails the backup; one deleted since the walk is left out and returned in `vanished`.
    package func write(
        _ files: [File], to writer: ArchiveWriter, progress: (any ProgressObserver)?
    ) throws -> (entries: [Manifest.Entry], vanished: [String]) {
        var entries: [Manifest.Entry] = []
        var vanished: [String] = []
        entries.reserveCapacity(files.count)
        for (index, file) in files.enumerated() {
            try Interruption.check()
            guard let entryPath = ArchiveFormat.fileEntryPath(relative: file.relative) else {
                throw VeloError("\(disk.root)/\(file.relative): a name velo cannot store safely")
            }
            // Deleted since the walk (a record removed after the database was read): nothing to keep.
            guard let reader = try disk.open(file) else {
                vanished.append("\(disk.root)/\(file.relative)")
                continue
            }
            // An object found gone once its entry's header is written cannot be left out: the backup fails.
            let written = try writer.addEntry(
                path: entryPath, size: reader.size, modificationTime: reader.modified / 1_000_000_000, source: reader.location
            ) { write in
                guard try reader.read(chunkBytes: 256 << 10, write) else {
                    throw VeloError("\(reader.location): was deleted while it was backed up", kind: .io)
                }
            }
            entries.append(
                Manifest.Entry(path: entryPath, bytes: written.bytes, sha256: written.sha256, mode: reader.mode, modified: reader.modified))
            progress?.update(index + 1, of: files.count, detail: file.relative)
        }
        return (entries, vanished)
    }
}
