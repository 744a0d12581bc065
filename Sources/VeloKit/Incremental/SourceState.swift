import Foundation

/// What tells that a SQLite file has not changed since a snapshot, without reading a row: its device and inode,
/// size, the header's file change counter and version-valid-for number (bytes 24–27 and 92–95), and in WAL mode
/// the WAL's 32-byte header (salts, checkpoint sequence) and size. A commit changes at least one of them (in
/// WAL mode a commit grows the WAL or restarts it with new salts); a checkpoint may change them without a
/// change of data, which only costs a scan.
package enum SourceState {
    /// The state of `path` now, as hex, or nil when it cannot be read.
    package static func read(_ path: String) -> String? {
        var out: [UInt8] = []
        guard let db = fileState(path, headerBytes: 100, picks: [24..<28, 92..<96], out: &out) else { return nil }
        _ = db
        _ = fileState(path + "-wal", headerBytes: 32, picks: [0..<32], out: &out)
        return SHA256Digest.hex(out)
    }

    private static func fileState(_ path: String, headerBytes: Int, picks: [Range<Int>], out: inout [UInt8]) -> Bool? {
        var info = stat()
        guard stat(path, &info) == 0 else { out.append(0); return nil }
        for v in [UInt64(info.st_dev), UInt64(info.st_ino), UInt64(info.st_size)] {
            for s in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: headerBytes)
        let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, headerBytes, 0) }
        guard n >= 0 else { return nil }
        for range in picks { out += header[range] }
        return true
    }
}
