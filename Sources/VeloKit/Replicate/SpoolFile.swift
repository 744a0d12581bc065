import Foundation
import VeloFormat

/// Where the frames read from one source's log since the last batch wait (each a 4-byte big-endian page number
/// and the page), on disk, never in memory, however large a transaction (a VACUUM writes every page). Frames go
/// to a raw file; once a read is cut at its last commit (`truncate`) and a mebibyte is waiting, they are
/// compressed (`pack`) into a zstd frame appended to the packed file, and the batch packs the rest at the beat
/// and copies those bytes as they are after its own header's frame (a zstd stream may hold any number of
/// frames). So storing a batch compresses at most a mebibyte while commits wait, and a quiet source's interval
/// is still one frame (frames of a few pages each compress a third worse).
final class SpoolFile {
    private let raw: (path: String, fd: Int32)
    private let packed: (path: String, fd: Int32)
    /// Bytes of frames packed (uncompressed) and raw.
    private var packedBytes: Int64 = 0
    private var rawBytes: Int64 = 0
    /// Bytes of the packed file (compressed).
    private(set) var packedFileBytes: Int64 = 0

    init(folder: String) throws {
        func make(_ kind: String) throws -> (String, Int32) {
            var template = Array((folder as NSString).appendingPathComponent("\(kind)-XXXXXX").utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw VeloError.io(folder, "mkstemp", errno: errno) }
            return (String(cString: template), fd)
        }
        raw = try make("raw")
        packed = try make("packed")
    }

    deinit {
        for file in [raw, packed] {
            close(file.fd)
            unlink(file.path)
        }
    }

    /// The packed file: the batch copies it whole.
    var path: String { packed.path }

    /// Raw bytes past which a read packs them (1 MiB).
    static let packAt: Int64 = 1 << 20

    /// Bytes of frames not packed yet.
    var unpackedBytes: Int64 { rawBytes }

    /// Bytes of frames held (uncompressed): where the next frame starts in the batch's body.
    var bytes: Int64 { packedBytes + rawBytes }

    /// Appends one frame to the raw file.
    func append(page number: UInt32, _ page: UnsafeRawBufferPointer) throws {
        let header: [UInt8] = [UInt8(number >> 24), UInt8(number >> 16 & 0xFF), UInt8(number >> 8 & 0xFF), UInt8(number & 0xFF)]
        try header.withUnsafeBytes { try FileSystem.writeAll(raw.fd, $0, path: raw.path) }
        try FileSystem.writeAll(raw.fd, page, path: raw.path)
        rawBytes += Int64(header.count + page.count)
    }

    /// Drops every frame after the first `count` bytes (those of a transaction not yet committed); `count` is
    /// never less than what is packed.
    func truncate(to count: Int64) throws {
        let keep = max(0, count - packedBytes)
        guard keep < rawBytes else { return }
        guard ftruncate(raw.fd, off_t(keep)) == 0, lseek(raw.fd, off_t(keep), SEEK_SET) >= 0 else {
            throw VeloError.io(raw.path, "truncate", errno: errno)
        }
        rawBytes = keep
    }

    /// Compresses the raw frames into one zstd frame at the end of the packed file, and empties the raw file.
    func pack() throws {
        guard rawBytes > 0 else { return }
        let compressor = try ZstdCompressor(level: 3, workers: 0) { [packed] out in
            try FileSystem.writeAll(packed.fd, out, path: packed.path)
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < rawBytes {
            let want = Int(min(Int64(chunk.count), rawBytes - offset))
            let got = chunk.withUnsafeMutableBytes { pread(raw.fd, $0.baseAddress!, want, off_t(offset)) }
            guard got > 0 else { throw VeloError.io(raw.path, "read", errno: got < 0 ? errno : EIO) }
            try chunk.withUnsafeBytes { try compressor.write(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += Int64(got)
        }
        try compressor.finish()
        packedFileBytes = Int64(lseek(packed.fd, 0, SEEK_END))
        packedBytes += rawBytes
        rawBytes = 0
        guard ftruncate(raw.fd, 0) == 0, lseek(raw.fd, 0, SEEK_SET) >= 0 else { throw VeloError.io(raw.path, "truncate", errno: errno) }
    }
}

extension SpoolFile {
    /// A scratch file of the spool folder, removed with its owner: a base image being made.
    final class Scratch {
        let path: String
        private let fd: Int32

        init(folder: String, name: String) throws {
            var template = Array((folder as NSString).appendingPathComponent("\(name)-XXXXXX").utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw VeloError.io(folder, "mkstemp", errno: errno) }
            path = String(cString: template)
        }

        deinit {
            close(fd)
            unlink(path)
        }

        func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw VeloError.io(path, "write", errno: errno)
                }
                done += n
            }
        }

        func truncate(to size: Int64) throws {
            guard ftruncate(fd, off_t(size)) == 0 else { throw VeloError.io(path, "truncate", errno: errno) }
        }

        /// Reads at `offset`; returns how many bytes (fewer only at the end).
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
            let n = pread(fd, buffer.baseAddress!, buffer.count, off_t(offset))
            guard n >= 0 else { throw VeloError.io(path, "read", errno: errno) }
            return n
        }
    }
}
