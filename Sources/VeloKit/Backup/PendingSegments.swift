import VeloFormat
import VeloRepository
import VeloStorage

/// Segments on their way into a segment list, in order: a reused segment's frame is known at once, a new one's
/// only once `PackWriter` has compressed and written its frame (by ticket). Segments wait here until every one
/// before them can be listed, so the list stays in order while compression runs behind the reader.
/// `SegmentDeduplicator` (rows) and `FileSegmentWriter` (uploaded files) list their segments through it.
struct PendingSegments {
    private struct Pending {
        /// The frame of a reused segment; nil for a new one, whose frame is `ticket`'s.
        var frame: SegmentList.Frame?
        var ticket: Int
        var offset: Int
        var bytes: Int
        var rows: Int
        var lastKey: Int64
        var hash: (UInt64, UInt64)
    }

    private var builder = SegmentListBuilder()
    private var pending: [Pending] = []
    private var start = 0

    /// Segments not yet listed.
    var waiting: Int { pending.count - start }

    /// A segment already stored in `frame`.
    mutating func reuse(_ frame: SegmentList.Frame, offset: Int, bytes: Int, rows: Int = 0, key: Int64, hash: (UInt64, UInt64)) {
        if start == pending.count {
            builder.append(frame: frame, offset: offset, bytes: bytes, rows: rows, lastKey: key, hash: hash)
        } else {
            pending.append(Pending(frame: frame, ticket: 0, offset: offset, bytes: bytes, rows: rows, lastKey: key, hash: hash))
        }
    }

    /// A new segment, at `offset` in the frame `ticket` will be.
    mutating func add(ticket: Int, offset: Int, bytes: Int, rows: Int = 0, key: Int64, hash: (UInt64, UInt64)) {
        pending.append(Pending(frame: nil, ticket: ticket, offset: offset, bytes: bytes, rows: rows, lastKey: key, hash: hash))
    }

    /// Lists every waiting segment whose frame is known, in order.
    mutating func drain(_ packs: PackWriter) {
        while start < pending.count {
            let p = pending[start]
            guard let frame = p.frame ?? packs.frame(p.ticket) else { break }
            builder.append(frame: frame, offset: p.offset, bytes: p.bytes, rows: p.rows, lastKey: p.lastKey, hash: p.hash)
            start += 1
        }
        if start == pending.count {
            pending.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 4096 && start * 2 >= pending.count {
            pending.removeSubrange(0..<start)
            start = 0
        }
    }

    /// Waits for the oldest waiting segment's frame, handing the frame being gathered over if it is that one.
    mutating func waitForOldest(_ packs: PackWriter) throws {
        let oldest = pending[start]
        if oldest.frame == nil {
            if oldest.ticket == packs.currentTicket { _ = try packs.flushFrame() }
            _ = try packs.wait(for: oldest.ticket)
        }
        drain(packs)
    }

    /// Waits for every frame (the frame being gathered must have been handed over) and returns the list's bytes.
    mutating func finish(_ packs: PackWriter) throws -> [UInt8] {
        while start < pending.count { try waitForOldest(packs) }
        packs.forget(before: packs.currentTicket)
        return builder.finish()
    }
}
