import Foundation

/// Where an archive's compressed bytes come from, front to back: a file (`ArchiveFileInput`), or an object in a
/// repository's storage (the repository layer's adapter). The archive readers know nothing else of where an
/// archive is, so an off-site repository is one more input, not a new reader.
package protocol ArchiveInput: AnyObject {
    /// The file, or the object's place, for messages.
    var description: String { get }
    /// Reads up to `buffer.count` bytes at the current position; 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Where an archive's compressed bytes go, front to back: nothing is a complete archive until `commit`, and
/// `abort` leaves nothing behind.
package protocol ArchiveOutput: AnyObject {
    /// The file, or the object's place, for messages.
    var description: String { get }
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the archive durable and visible (a file is fsynced; a stored object appears under its name).
    func commit() throws
    /// Drops what was written.
    func abort()
}

/// An archive file read from the start.
package final class ArchiveFileInput: ArchiveInput {
    package let description: String
    private let fd: Int32

    /// - Throws: `VeloError` (`.input`) when `path` is missing or a folder, `.io` when it cannot be opened.
    package init(path: String) throws {
        var isDirectory: ObjCBool = false
        // Not damage: the path names no archive at all (a usage error).
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw VeloError("\(path): no such archive file")
        }
        if isDirectory.boolValue { throw VeloError("\(path): is a directory, not an archive file") }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VeloError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        description = path
    }

    deinit { close(fd) }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Foundation.read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError("\(description): read failed: \(String(cString: strerror(errno)))")
            }
            return n
        }
    }
}

/// An archive file written in place: created only if absent (mode 0600, whatever the umask: archives hold
/// password hashes and tokens), fsynced on `commit`, deleted on `abort`. Callers that need the file to appear
/// whole write it under a temporary name and rename it after `commit`.
package final class ArchiveFileOutput: ArchiveOutput {
    package let description: String
    private var fd: Int32

    package init(path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VeloError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        description = path
    }

    deinit { abort() }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError("\(description): write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    package func commit() throws {
        guard fd >= 0 else { return }
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            abort()  // never left behind as if it might be complete
            throw VeloError("\(description): fsync failed: \(reason)")
        }
        close(fd)
        fd = -1
    }

    package func abort() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(description)
    }
}
