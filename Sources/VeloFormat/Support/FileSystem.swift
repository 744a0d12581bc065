import Foundation
import Synchronization

/// The few durable file operations the repository relies on: atomic replace, fsync of files and folders.
package enum FileSystem {
    private static let temporaryCounter = Atomic<Int>(0)

    /// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsynced, renamed over `path`,
    /// then the folder fsynced, so a crash leaves the old file or the new one, never a mix.
    /// A front door's file (a plan, a metrics file) written this way: what a killed earlier write of it left is
    /// removed first (see `TemporaryFile`). The repository's own writes leave that to its recovery.
    package static func replaceAtomically(_ bytes: [UInt8], at path: String, mode: mode_t = 0o600) throws {
        TemporaryFile.removeLitter(beside: path, marker: ".tmp-", hidden: true)
        try writeAtomically(bytes, to: path, mode: mode)
    }

    package static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600, sharedName: Bool = false) throws {
        let directory = (path as NSString).deletingLastPathComponent
        // A name several threads may write at once (a piece named by its content, stored by the jobs of one
        // `backup --app`) gets a temporary of each writer's own.
        let writer = sharedName ? ".\(temporaryCounter.add(1, ordering: .relaxed).newValue)" : ""
        let temporary = (directory as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent)\(writer).tmp-\(getpid())")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw VeloError.io(temporary, "create", errno: errno) }
        fchmod(fd, mode)  // whatever the umask
        // Each failure names the call that failed and its own errno.
        var failure: VeloError?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .io(path, "write", errno: errno)
                    return
                }
                offset += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = .io(path, "fsync", errno: errno) }
        if close(fd) != 0 && failure == nil { failure = .io(path, "close", errno: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
        try rename(temporary, to: path)
    }

    /// Renames and fsyncs the destination folder so the rename survives a crash.
    package static func rename(_ from: String, to: String) throws {
        guard Foundation.rename(from, to) == 0 else {
            let failure = VeloError.io(to, "rename into place", errno: errno)
            unlink(from)
            throw failure
        }
        syncDirectory((to as NSString).deletingLastPathComponent)
    }

    package static func syncDirectory(_ path: String) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// Creates `path` and any missing parents. With `durable`, each new folder's entry in its parent is fsynced
    /// too, so a crash cannot lose the folder of a file that something already refers to.
    package static func createDirectory(_ path: String, durable: Bool = false) throws {
        var missing: [String] = []
        if durable {
            var current = (path as NSString).standardizingPath
            while !current.isEmpty && current != "/" && !exists(current) {
                missing.append(current)
                current = (current as NSString).deletingLastPathComponent
            }
        }
        try createDirectoryTree(path)
        for created in missing.reversed() { syncDirectory((created as NSString).deletingLastPathComponent) }
    }

    private static func createDirectoryTree(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            if isDirectory(path) { return }  // made meanwhile by another thread or process
            throw VeloError("\(path): cannot create directory: \(error.localizedDescription)")
        }
    }

    package static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    package static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Writes all of `bytes` to `fd` (a short write goes on, EINTR is retried).
    /// - Throws: `.io` naming `path`.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError.io(path, "write", errno: errno)
            }
            offset += n
        }
    }

    /// Reads up to `count` bytes of `fd` at `offset` into `buffer` (fewer only at the end of the file; EINTR is
    /// retried).
    /// - Throws: `.io` naming `path`.
    package static func read(_ fd: Int32, into buffer: inout [UInt8], count: Int, at offset: Int64, path: String) throws -> Int {
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError.io(path, "read", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// The whole of a small file (markers, catalog entries, plans).
    package static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VeloError.io(path, "open", errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError.io(path, "read", errno: errno)
            }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    /// The size of a file, or an error with the errno of `stat` (never 0 for a file that cannot be looked at).
    package static func fileSize(_ path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw VeloError.io(path, "stat", errno: errno) }
        return Int64(info.st_size)
    }

    /// The absolute form of a path given on the command line.
    package static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return (path as NSString).standardizingPath }
        return ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }

    /// This machine's host name.
    package static var hostName: String { ProcessInfo.processInfo.hostName }

    /// A file's modification time in nanoseconds since the Unix epoch.
    package static func modifiedNanoseconds(_ info: stat) -> Int64 {
        #if canImport(Darwin)
        return Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #else
        return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #endif
    }
}
