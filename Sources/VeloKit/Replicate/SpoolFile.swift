import Foundation
import VeloFormat

/// A file on this machine holding the frames read from one source's log since the last batch was stored (each
/// a 4-byte big-endian page number and the page), until the batch takes them: the frames of an interval never
/// sit in memory, however large a transaction (a VACUUM writes every page).
final class SpoolFile {
    let path: String
    private let fd: Int32
    private(set) var bytes: Int64 = 0

    init(folder: String) throws {
        var template = Array(((folder as NSString).appendingPathComponent("velo-capture-\(getpid())-XXXXXX")).utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw VeloError.io(folder, "mkstemp", errno: errno) }
        path = String(cString: template)
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Appends one frame.
    func append(page number: UInt32, _ page: UnsafeRawBufferPointer) throws {
        let header: [UInt8] = [UInt8(number >> 24), UInt8(number >> 16 & 0xFF), UInt8(number >> 8 & 0xFF), UInt8(number & 0xFF)]
        try header.withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: path) }
        try FileSystem.writeAll(fd, page, path: path)
        bytes += Int64(header.count + page.count)
    }

    /// Drops everything after the first `count` bytes (frames of a transaction not yet committed).
    func truncate(to count: Int64) throws {
        guard count < bytes else { return }
        guard ftruncate(fd, off_t(count)) == 0, lseek(fd, off_t(count), SEEK_SET) >= 0 else {
            throw VeloError.io(path, "truncate", errno: errno)
        }
        bytes = count
    }
}
