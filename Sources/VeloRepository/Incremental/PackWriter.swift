import Foundation
import VeloFormat
import VeloStorage

/// Writes new segments into pack files: segments are gathered into a frame buffer, each frame is compressed
/// whole (with zstd's checksum) on the `FrameCompressor`'s workers while the caller goes on reading, and the
/// compressed frames are appended to the open pack in order. A pack is committed (durable, then visible under its
/// name: `StoredObjectWriter`) once it reaches `SegmentFormat.packBytes`. A pack is named by 32 random bytes:
/// its frames are what lists point at, each by offset, length and SHA-256. A frame is known by a ticket when it
/// is handed over and by its place (`frame(_:)`) once it is written.
package final class PackWriter {
    private let store: PieceStore
    private let compressor: FrameCompressor
    private var buffer: ByteBuffer
    /// What the frame being gathered may be compressed against.
    private var bases = DeltaBases()
    private var pack: (any StoredObjectWriter)?
    /// Frames written, by ticket, until the caller forgets them.
    private var written: [Int: SegmentList.Frame] = [:]
    /// Compressed bytes written into packs.
    private(set) package var writtenBytes: Int64 = 0
    /// Packs completed (renamed into place).
    private(set) package var packs: [String] = []

    /// - Parameter workers: compression threads (0: compress on the caller's thread).
    package init(store: PieceStore, level: Int32, workers: Int = 0) throws {
        self.store = store
        compressor = try FrameCompressor(level: level, workers: workers, storage: store.storage)
        buffer = compressor.buffer()
    }

    deinit {
        abort()
    }

    /// Bytes waiting in the frame buffer.
    package var pendingBytes: Int { buffer.count }

    /// Adds a segment to the current frame; returns its offset in the frame.
    package func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let offset = buffer.count
        buffer.append(bytes)
        return offset
    }

    /// Notes that a segment of the frame being gathered replaces one in `frame` (of the previous snapshot):
    /// the frame may be compressed against it (`DeltaBases`).
    package func noteReplaced(in frame: SegmentList.Frame) { bases.noteReplaced(in: frame) }

    /// Hands the current frame over to be compressed and returns its ticket (nil when the frame is empty);
    /// writes every frame compressed meanwhile. Waits only when every slot is taken.
    package func flushFrame() throws -> Int? {
        guard buffer.count > 0 else {
            _ = bases.take()  // (a table's end: its bases are not the next table's)
            return nil
        }
        while !compressor.hasFreeSlot { try writeNext(wait: true) }
        let ticket = compressor.submit(buffer, bases: bases.take())
        buffer = compressor.buffer()
        while try writeNext(wait: false) {}
        return ticket
    }

    /// The ticket the frame being gathered will get when it is handed over.
    package var currentTicket: Int { compressor.nextTicket }

    /// Where the frame of `ticket` was written; nil while it is still being compressed.
    package func frame(_ ticket: Int) -> SegmentList.Frame? { written[ticket] }

    /// Waits until the frame of `ticket` (and every frame before it) is written.
    package func wait(for ticket: Int) throws -> SegmentList.Frame {
        while written[ticket] == nil {
            guard try writeNext(wait: true) else { throw VeloError("pack writer: frame \(ticket) was never handed over") }
        }
        return written[ticket]!
    }

    /// Drops what is known of frames before `ticket` (their places are in the caller's lists by then).
    package func forget(before ticket: Int) {
        written = written.filter { $0.key >= ticket }
    }

    /// Flushes and closes the open pack: everything written is then durable under its final name.
    package func finish() throws {
        if buffer.count > 0 { _ = try flushFrame() }
        while try writeNext(wait: true) {}
        compressor.stop()
        try closePack()
    }

    /// Drops the pack being written (closed packs stay until a sweep finds them unreferenced).
    package func abort() {
        compressor.stop()
        pack?.abort()
        pack = nil
    }

    /// Writes the next compressed frame into the open pack (opening one if needed); false when none is in
    /// flight, or none is ready and `wait` is false.
    @discardableResult
    private func writeNext(wait: Bool) throws -> Bool {
        guard let compressed = try compressor.next(wait: wait) else { return false }
        if pack == nil { try openPack() }
        let offset = pack!.bytesWritten
        try pack!.write(compressed.bytes)
        writtenBytes += Int64(compressed.bytes.count)
        written[compressed.ticket] = SegmentList.Frame(
            pack: pack!.name.name, offset: offset, length: compressed.bytes.count,
            rawBytes: compressed.rawBytes, sha256: compressed.sha256, bases: compressed.bases)
        if pack!.bytesWritten >= Int64(SegmentFormat.packBytes) { try closePack() }
        return true
    }

    /// Starts a pack named by 32 random bytes.
    private func openPack() throws {
        var random = SystemRandomNumberGenerator()
        let name = (0..<4).map { _ in SnapshotID.random(using: &random) }.joined()
        try store.sweepMarker?.ensure()
        pack = try store.storage.create(.pack(name))
    }

    /// Makes the open pack durable under its name.
    private func closePack() throws {
        guard let open = pack else { return }
        pack = nil
        do { try open.commit() } catch {
            open.abort()
            throw error
        }
        packs.append(open.name.name)
    }
}
