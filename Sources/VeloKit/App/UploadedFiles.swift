import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A tenant's uploaded files on its local storage disk (`storage/tenants/{id}/app/`): found by walking its
/// `uploads/` folder without following symbolic links, and written into a snapshot as `files/…` entries, each
/// streamed from disk with its size, SHA-256, mode and modification time in the manifest.
package struct UploadedFiles: Sendable {
    /// One regular file found by the walk.
    package struct File: Sendable, Equatable {
        /// Relative to the disk root, e.g. `uploads/collections/posts/4f….png`.
        package var relative: String
        package var size: Int64
    }

    /// The tenant's storage disk root (`…/storage/tenants/{id}/app`).
    package var root: String
    /// The folders under the root that are backed up: `uploads`, or with `collections`, only those
    /// collections' upload folders (`uploads/collections/<name>`, the name made safe as Veloquent's
    /// `FileFieldProcessor` does).
    package var folders = ["uploads"]

    package init(root: String, collections: [String]? = nil) {
        self.root = root
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

    /// The regular files under the root's upload folders, sorted by path. Symbolic links and special files are
    /// not followed or read: they are returned in `skipped` with the reason, for the caller to report.
    package func walk() throws -> (files: [File], skipped: [String]) {
        var files: [File] = []
        var skipped: [String] = []
        func visit(_ relative: String) throws {
            let path = (root as NSString).appendingPathComponent(relative)
            var info = stat()
            guard lstat(path, &info) == 0 else {
                if errno == ENOENT { return }  // removed while walking (or no uploads folder at all)
                throw VeloError.io(path, "lstat", errno: errno)
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let names: [String]
                do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
                    throw VeloError("\(path): cannot list the folder: \(error.localizedDescription)", kind: .io)
                }
                for name in names.sorted() {
                    try Interruption.check()
                    try visit(relative + "/" + name)
                }
            case S_IFREG:
                guard ArchiveFormat.fileEntryPath(relative: relative) != nil else {
                    skipped.append("\(path): a name velo cannot store safely")
                    return
                }
                // A file a velo restore is writing aside (or a killed one left): not an upload.
                let name = (relative as NSString).lastPathComponent
                if name.contains(".velo-restore-"), TemporaryFile.ownerPID(name) != nil {
                    skipped.append("\(path): a file a velo restore writes aside, not an upload")
                    return
                }
                files.append(File(relative: relative, size: Int64(info.st_size)))
            case S_IFLNK:
                skipped.append("\(path): a symbolic link, not followed")
            default:
                skipped.append("\(path): not a regular file")
            }
        }
        for folder in folders { try visit(folder) }
        return (files, skipped)
    }

    /// Streams `files` into `writer` as `files/…` entries and returns their manifest entries. Each file is
    /// opened without following links and read whole; one that changed size meanwhile fails the backup, one
    /// deleted since the walk is left out and returned in `vanished`.
    package func write(
        _ files: [File], to writer: ArchiveWriter, progress: (any ProgressObserver)?
    ) throws -> (entries: [Manifest.Entry], vanished: [String]) {
        var entries: [Manifest.Entry] = []
        var vanished: [String] = []
        entries.reserveCapacity(files.count)
        for (index, file) in files.enumerated() {
            try Interruption.check()
            let path = (root as NSString).appendingPathComponent(file.relative)
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else {
                // Deleted since the walk (a record removed after the database was read): nothing to keep.
                if errno == ENOENT { vanished.append(path); continue }
                throw VeloError.io(path, "open", errno: errno)
            }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw VeloError.io(path, "fstat", errno: errno) }
            guard info.st_mode & S_IFMT == S_IFREG else { throw VeloError("\(path): is no longer a regular file", kind: .io) }
            guard let entryPath = ArchiveFormat.fileEntryPath(relative: file.relative) else {
                throw VeloError("\(path): a name velo cannot store safely")
            }
            let modified = FileSystem.modifiedNanoseconds(info)
            let written = try writer.addFile(
                path: entryPath, fd: fd, size: Int64(info.st_size),
                modificationTime: modified / 1_000_000_000, source: path)
            entries.append(
                Manifest.Entry(
                    path: entryPath, bytes: written.bytes, sha256: written.sha256,
                    mode: Int(info.st_mode & 0o7777), modified: modified))
            progress?.update(index + 1, of: files.count, detail: file.relative)
        }
        return (entries, vanished)
    }
}
