import Foundation

/// Reads an open file of a known size in chunks of `chunkBytes` (every chunk full but the last), refusing a file
/// that shrank or grew while it was read: a backup never stores a torn upload. Both writers of uploaded files read
/// them through this (a full archive's `files/…` entries, an incremental snapshot's file segments).
package enum FileChunks {
    /// Calls `body` with each chunk of the `size` bytes of `fd` (`path` names the file in errors).
    /// - Throws: `.io` naming the file when a read fails or the file's size changed meanwhile.
    package static func read(
        _ fd: Int32, size: Int64, path: String, chunkBytes: Int = 256 << 10, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var chunk = [UInt8](repeating: 0, count: chunkBytes)
        var remaining = size
        while remaining > 0 {
            let wanted = Int(min(Int64(chunkBytes), remaining))
            let n = try fill(fd, &chunk, count: wanted, path: path)
            guard n == wanted else {
                throw VeloError("\(path): shrank while it was being backed up (expected \(size) bytes)", kind: .io)
            }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            remaining -= Int64(n)
        }
        // One more read must find the end: a file that grew is refused rather than cut.
        if try fill(fd, &chunk, count: 1, path: path) > 0 {
            throw VeloError("\(path): grew while it was being backed up (expected \(size) bytes)", kind: .io)
        }
    }

    /// Reads up to `count` bytes into `buffer` (fewer only at the end of the file).
    private static func fill(_ fd: Int32, _ buffer: inout [UInt8], count: Int, path: String) throws -> Int {
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + done, count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError.io(path, "read", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}
