import CZstd
import Foundation

/// Writes new segments into pack files: segments are gathered into a frame buffer, each frame is compressed
/// whole (with zstd's checksum) and appended to the open pack, and a pack is closed (fsynced, then renamed from
/// its pid-marked temporary name) once it reaches `SegmentFormat.packBytes`. A pack is named by 32 random
/// bytes: its frames are what lists point at, each by offset, length and SHA-256.
package final class PackWriter {
    private let store: PieceStore
    private let level: Int32
    private let context: OpaquePointer
    private let buffer = ByteBuffer(capacity: SegmentFormat.frameBytes + (1 << 20))
    private var pack: (name: String, fd: Int32, temporary: String, bytes: Int64)?
    /// Compressed bytes written into packs.
    private(set) package var writtenBytes: Int64 = 0
    /// Packs completed (renamed into place).
    private(set) package var packs: [String] = []

    package init(store: PieceStore, level: Int32) throws {
        self.store = store
        self.level = level
        guard let context = ZSTD_createCCtx() else { throw VeloError("zstd: cannot allocate a compression context") }
        self.context = context
        if level == 3 { _ = ZSTD_CCtx_setParameter(context, ZSTD_c_minMatch, 6) }
    }

    deinit {
        abort()
        ZSTD_freeCCtx(context)
    }

    /// Bytes waiting in the frame buffer.
    package var pendingBytes: Int { buffer.count }

    /// Adds a segment to the current frame; returns its offset in the frame.
    package func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let offset = buffer.count
        buffer.append(bytes)
        return offset
    }

    /// Compresses the current frame into the open pack (opening one if needed); nil when the frame is empty.
    package func flushFrame() throws -> SegmentList.Frame? {
        guard buffer.count > 0 else { return nil }
        let raw = buffer.count
        let compressed = try ZstdFrame.compress(UnsafeRawBufferPointer(start: buffer.base, count: buffer.count), level: level, context: context)
        buffer.removeAll()
        if pack == nil { try openPack() }
        let offset = pack!.bytes
        try compressed.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(pack!.fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw VeloError.io(pack!.temporary, "write", errno: errno) }
                done += n
            }
        }
        pack!.bytes += Int64(compressed.count)
        writtenBytes += Int64(compressed.count)
        var digest = SHA256Digest()
        digest.update(compressed)
        let frame = SegmentList.Frame(pack: pack!.name, offset: offset, length: compressed.count, rawBytes: raw,
                                      sha256: SegmentListBuilder.bytes(hex: digest.hex()))
        if pack!.bytes >= Int64(SegmentFormat.packBytes) { try closePack() }
        return frame
    }

    /// Flushes and closes the open pack: everything written is then durable under its final name.
    package func finish() throws {
        if buffer.count > 0 { _ = try flushFrame() }
        try closePack()
    }

    /// Deletes the pack being written (closed packs stay until a sweep finds them unreferenced).
    package func abort() {
        if let pack {
            close(pack.fd)
            unlink(pack.temporary)
        }
        pack = nil
    }

    private func openPack() throws {
        var random = SystemRandomNumberGenerator()
        let name = (0..<4).map { _ in SnapshotID.random(using: &random) }.joined()
        let final = store.path(SegmentFormat.packPath(name))
        let folder = (final as NSString).deletingLastPathComponent
        try FileSystem.createDirectory(folder, durable: true)
        let temporary = (folder as NSString).appendingPathComponent(".\(name).pack.tmp-\(getpid())")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VeloError.io(temporary, "create", errno: errno) }
        fchmod(fd, 0o600)
        pack = (name, fd, temporary, 0)
    }

    private func closePack() throws {
        guard let open = pack else { return }
        pack = nil
        guard fsync(open.fd) == 0 else {
            let code = errno
            close(open.fd)
            unlink(open.temporary)
            throw VeloError.io(open.temporary, "fsync", errno: code)
        }
        close(open.fd)
        try FileSystem.rename(open.temporary, to: store.path(SegmentFormat.packPath(open.name)))
        packs.append(open.name)
    }
}
