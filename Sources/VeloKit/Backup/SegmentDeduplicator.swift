import Crypto
import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Takes one table's segments in row order and decides, for each, whether the previous snapshot of the same
/// source already has it (same last key, size, rows and keyed SHA-256: it is referenced where it is) or it is
/// new (it goes into the pack writer). It also cuts the table's parts and hashes them as a full archive would,
/// and builds the table's segment list. Owned by one thread at a time (`SegmentHandOff` runs it on a thread of
/// its own, beside the one reading rows), so its state is not checked for exclusive access at run time.
final class SegmentDeduplicator {
    private let item: TablePlan.Item
    private let packs: PackWriter
    /// SHA-256 with the hash key absorbed: each segment's hash starts from a copy of it.
    private let keyed: Crypto.SHA256
    private let partBytes: Int
    /// A part never grows past this (the format's largest data entry): a segment that would take it past is the
    /// first of a new part.
    private let maxPartBytes: Int
    private let pendingLimit: Int
    @exclusivity(unchecked) private var old: SegmentList?
    @exclusivity(unchecked) private var oldNext: SegmentList.Segment?
    /// Frames (of `old`) of the old segments passed over since the last new or reused segment.
    @exclusivity(unchecked) private var skipped: [Int] = []
    @exclusivity(unchecked) private var result = SegmentedSnapshotWriter.Scanned(list: [])
    @exclusivity(unchecked) private var listing = PendingSegments()
    @exclusivity(unchecked) private var partDigest = SHA256Digest()
    @exclusivity(unchecked) private var partRows = 0
    @exclusivity(unchecked) private var partSegments = 0

    /// - Parameters:
    ///   - old: the previous snapshot's list of this table, if any.
    ///   - hashKey: prefixed to every segment before it is hashed (see `SegmentedSnapshotWriter.hashKey`).
    ///   - pendingLimit: segments waiting for their frame at most; past it, wait for the oldest one's frame.
    init(
        item: TablePlan.Item, old: SegmentList?, packs: PackWriter, hashKey: [UInt8], partBytes: Int, pendingLimit: Int,
        maxPartBytes: Int = ArchiveFormat.maxDataEntryBytes
    ) throws {
        self.item = item
        self.old = old
        self.packs = packs
        var keyed = Crypto.SHA256()
        keyed.update(data: hashKey)
        self.keyed = keyed
        self.partBytes = partBytes
        self.maxPartBytes = maxPartBytes
        self.pendingLimit = pendingLimit
        oldNext = try self.old?.next()
    }

    /// Takes the next segment: `bytes` (whole rows, each ending in a newline), its `rows` and its last row's key.
    func add(_ bytes: UnsafeRawBufferPointer, rows: Int, lastKey key: Int64) throws {
        var hasher = keyed
        hasher.update(bufferPointer: bytes)
        // Read straight from the digest: no array per segment on this path.
        let hash = hasher.finalize().withUnsafeBytes {
            SegmentList.words(UnsafeRawBufferPointer(rebasing: $0.prefix(SegmentFormat.segmentHashBytes)))
        }
        // A part is closed after the segment that reaches the target, or before one that would take it past
        // what a reader accepts (a segment ends with a row of up to 16 MiB).
        if partSegments > 0 && partDigest.byteCount + Int64(bytes.count) > Int64(maxPartBytes) { closePart() }
        partDigest.update(bytes)
        partRows += rows
        partSegments += 1
        result.segments += 1
        result.rawBytes += Int64(bytes.count)
        // Old segments before this one's last key were replaced (or deleted): a new segment may be compressed
        // against the frames that held them (`DeltaBases`).
        while let o = oldNext, o.lastKey < key {
            if skipped.last != o.frame { skipped.append(o.frame) }
            oldNext = try old?.next()
        }
        if let o = oldNext, o.lastKey == key, o.hash == hash, o.bytes == bytes.count, o.rows == rows, let list = old {
            listing.reuse(list.frames[o.frame], offset: o.offset, bytes: o.bytes, rows: o.rows, key: key, hash: hash)
            oldNext = try old?.next()
            skipped.removeAll(keepingCapacity: true)
        } else {
            if let list = old {
                for frame in skipped { packs.noteReplaced(in: list.frames[frame]) }
                if let o = oldNext { packs.noteReplaced(in: list.frames[o.frame]) }
                skipped.removeAll(keepingCapacity: true)
            }
            let ticket = packs.currentTicket
            let offset = packs.append(bytes)
            listing.add(ticket: ticket, offset: offset, bytes: bytes.count, rows: rows, key: key, hash: hash)
            result.newSegments += 1
            result.newRawBytes += Int64(bytes.count)
            if packs.pendingBytes >= SegmentFormat.frameBytes {
                _ = try packs.flushFrame()
                listing.drain(packs)
            }
        }
        if listing.waiting >= pendingLimit { try listing.waitForOldest(packs) }
        if partDigest.byteCount >= Int64(partBytes) { closePart() }
    }

    /// Ends the table: its last part, its frames (a table's frames end with it, so its segments stay together
    /// for the reads and sweeps to come) and its list.
    func finish() throws -> SegmentedSnapshotWriter.Scanned {
        closePart()
        _ = try packs.flushFrame()
        result.list = try listing.finish(packs)
        return result
    }

    private func closePart() {
        guard partSegments > 0 else { return }
        let path = ArchiveFormat.partPath(group: item.group, table: item.table, part: result.parts.count + 1)
        result.parts.append(
            .init(path: path, rows: partRows, bytes: partDigest.byteCount, sha256: partDigest.hex(), segments: partSegments))
        partDigest = SHA256Digest()
        partRows = 0
        partSegments = 0
    }
}
