import Foundation
import VeloFormat
import VeloStorage

/// A tenant's storage disk on this machine (`storage/tenants/{id}/app`). The walk does not follow symbolic links
/// (they and special files are reported, not read); files are read through a descriptor opened without
/// following links, and a file whose size changes while it is read fails its backup. Restored files are written
/// beside their targets (`<name>.velo-restore-<pid>`, with their mode and modification time, fsynced) and
/// renamed into place on commit; a folder or file link on the way out of the root is refused.
package struct LocalUploads: UploadsDisk {
    package var root: String

    package init(root: String) { self.root = root }

    func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    package func walk(_ folders: [String]) throws -> (files: [UploadedFiles.File], skipped: [String]) {
        var files: [UploadedFiles.File] = []
        var skipped: [String] = []
        func visit(_ relative: String) throws {
            let path = path(relative)
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
                files.append(UploadedFiles.File(relative: relative, size: Int64(info.st_size)))
            case S_IFLNK:
                skipped.append("\(path): a symbolic link, not followed")
            default:
                skipped.append("\(path): not a regular file")
            }
        }
        for folder in folders { try visit(folder) }
        return (files, skipped)
    }

    package func open(_ file: UploadedFiles.File) throws -> (any UploadReader)? {
        let path = path(file.relative)
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            // Deleted since the walk (a record removed after the database was read): nothing to keep.
            if errno == ENOENT { return nil }
            throw VeloError.io(path, "open", errno: errno)
        }
        let reader = Reader(fd: fd, location: path)
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw VeloError.io(path, "fstat", errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw VeloError("\(path): is no longer a regular file", kind: .io) }
        reader.size = Int64(info.st_size)
        reader.modified = FileSystem.modifiedNanoseconds(info)
        reader.mode = Int(info.st_mode & 0o7777)
        return reader
    }

    /// An open file (closed when released).
    final class Reader: UploadReader {
        let fd: Int32
        let location: String
        var size: Int64 = 0
        var modified: Int64 = 0
        var mode: Int?

        init(fd: Int32, location: String) {
            self.fd = fd
            self.location = location
        }

        deinit { close(fd) }

        func read(chunkBytes: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
            try FileChunks.read(fd, size: size, path: location, chunkBytes: chunkBytes, body)
            return true
        }
    }

    package func targets(_ relatives: [String]) throws -> [UploadTarget] { try relatives.map(target) }

    func target(_ relative: String) throws -> UploadTarget {
        let target = try safeTarget(relative)
        var info = stat()
        if lstat(target, &info) != 0 {
            guard errno == ENOENT else { throw VeloError.io(target, "lstat", errno: errno) }
            return .missing
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw VeloError("\(target): exists and is not a regular file; the snapshot has a file there")
        }
        return .file(size: Int64(info.st_size))
    }

    /// `root/relative`, refusing a path whose folders on the way (inside the root) are symbolic links or files.
    func safeTarget(_ relative: String) throws -> String {
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

    package func sha256(_ relative: String) throws -> String {
        let path = try safeTarget(relative)
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw VeloError.io(path, "open", errno: errno) }
        defer { close(fd) }
        var digest = SHA256Digest()
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError.io(path, "read", errno: errno)
            }
            if n == 0 { break }
            chunk.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return digest.hex()
    }

    package func stager() throws -> any UploadStager { Stager(disk: self) }

    /// Files written beside their targets, renamed into place on commit.
    final class Stager: UploadStager {
        let disk: LocalUploads
        /// Temporary path → final path, of every file begun.
        private var written: [(temporary: String, target: String)] = []
        private var fd: Int32 = -1
        private var committed = false

        init(disk: LocalUploads) { self.disk = disk }

        deinit {
            abandon()
            discard()
        }

        func begin(_ relative: String) throws {
            let target = try disk.safeTarget(relative)
            try FileSystem.createDirectory((target as NSString).deletingLastPathComponent)
            TemporaryFile.removeLitter(beside: target)
            let temporary = target + ".velo-restore-\(getpid())"
            unlink(temporary)
            fd = Foundation.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw VeloError.io(temporary, "create", errno: errno) }
            written.append((temporary, target))
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            try FileSystem.writeAll(fd, bytes, path: written.last!.temporary)
        }

        func end(mode: Int?, modified: Int64?) throws {
            defer { abandon() }
            let temporary = written.last!.temporary
            guard fchmod(fd, mode_t(mode ?? 0o644) & 0o7777) == 0 else { throw VeloError.io(temporary, "chmod", errno: errno) }
            guard fsync(fd) == 0 else { throw VeloError.io(temporary, "fsync", errno: errno) }
            if let modified {
                let time = timespec(tv_sec: time_t(modified / 1_000_000_000), tv_nsec: Int(modified % 1_000_000_000))
                var times = [time, time]
                guard futimens(fd, &times) == 0 else { throw VeloError.io(temporary, "set the modification time of", errno: errno) }
            }
        }

        func abandon() {
            if fd >= 0 {
                close(fd)
                fd = -1
            }
        }

        /// Renames every staged file into place (each rename atomic; folders fsynced).
        func commit() throws {
            var folders = Set<String>()
            for file in written {
                try FileSystem.rename(file.temporary, to: file.target)
                folders.insert((file.target as NSString).deletingLastPathComponent)
            }
            for folder in folders { FileSystem.syncDirectory(folder) }
            committed = true
        }

        func discard() {
            guard !committed else { return }
            abandon()
            for file in written { unlink(file.temporary) }
            written = []
        }
    }
}
