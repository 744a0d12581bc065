import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Where an exported payload goes: standard output, or a file written atomically with mode 0600 (a payload
/// holds password and token hashes). Bytes are buffered and written in 1 MiB pieces.
package final class PayloadOutput {
    let buffer = ByteBuffer(capacity: 2 << 20)
    private let fd: Int32
    private let finalPath: String?
    private let temporaryPath: String?
    private var finished = false
    /// Bytes written so far.
    package private(set) var bytesWritten: Int64 = 0

    /// Standard output.
    package static func standardOutput() -> PayloadOutput { PayloadOutput(fd: 1, finalPath: nil, temporaryPath: nil) }

    /// A file that appears under `path` only when complete (`finish`), with mode 0600.
    package static func file(_ path: String) throws -> PayloadOutput {
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw VeloError("\(path): is a directory")
        }
        TemporaryFile.removeLitter(beside: path, marker: ".tmp-", hidden: true)  // what a killed export left
        let temporary = ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent(
            ".\((path as NSString).lastPathComponent).tmp-\(getpid())")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VeloError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        return PayloadOutput(fd: fd, finalPath: path, temporaryPath: temporary)
    }

    private init(fd: Int32, finalPath: String?, temporaryPath: String?) {
        self.fd = fd
        self.finalPath = finalPath
        self.temporaryPath = temporaryPath
    }

    deinit { if !finished { abort() } }

    /// Writes the buffer out when it holds 1 MiB or more.
    @inline(__always)
    func flushIfNeeded() throws { if buffer.count >= 1 << 20 { try flush() } }

    func flush() throws {
        var offset = 0
        let bytes = buffer.bytes
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError("\(finalPath ?? "standard output"): write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        bytesWritten += Int64(bytes.count)
        buffer.removeAll()
    }

    func append(_ text: String) {
        var text = text
        text.withUTF8 { buffer.append(UnsafeRawBufferPointer($0)) }
    }

    /// Flushes; for a file, fsyncs it and renames it into place.
    package func finish() throws {
        try flush()
        finished = true
        guard let finalPath, let temporaryPath else { return }
        if fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(temporaryPath)
            throw VeloError("\(finalPath): write failed: \(reason)")
        }
        close(fd)
        try FileSystem.rename(temporaryPath, to: finalPath)
    }

    /// Drops a partial file.
    package func abort() {
        finished = true
        guard let temporaryPath else { return }
        close(fd)
        unlink(temporaryPath)
    }
}
