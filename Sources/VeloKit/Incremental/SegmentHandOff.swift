import Foundation

/// Carries one table's segments from the thread that reads and encodes rows to a `SegmentDeduplicator` on a
/// thread of its own, in batches of whole segments, so that hashing, matching and packing overlap with SQLite
/// and the encoder (after a small change, hashing is most of what a backup does besides reading). The reader
/// encodes rows straight into `buffer` and calls `endSegment` at each boundary. Memory is a fixed pool of
/// batches. Unthreaded, each segment goes to the deduplicator as it ends, on the reader's thread.
final class SegmentHandOff: @unchecked Sendable {
    /// Where the reader encodes the rows of the segment it is filling (after the batch's earlier segments).
    private(set) var buffer: ByteBuffer
    /// Where the segment being filled starts in `buffer`.
    private(set) var segmentStart = 0

    private struct Segment {
        var end: Int
        var rows: Int
        var lastKey: Int64
    }

    private struct Batch {
        var bytes: ByteBuffer
        var segments: [Segment]
    }

    private let deduplicator: SegmentDeduplicator
    private let threaded: Bool
    private var segments: [Segment] = []
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Batch] = []
    private var free: [ByteBuffer] = []
    private var ended = false
    private var finished = false
    private var failure: Error?

    /// Bytes of segments gathered before a batch is handed over.
    private let batchBytes: Int
    /// Batches in the pool (see `FrameCompressor.spareSlots` for how the pipeline's depth was chosen).
    static let batchCount = 5

    /// - Parameters:
    ///   - threaded: run the deduplicator on a thread of its own (else on the caller's).
    ///   - batchBytes: bytes of segments gathered before a batch is handed over.
    init(deduplicator: SegmentDeduplicator, threaded: Bool, batchBytes: Int = 512 << 10) {
        self.deduplicator = deduplicator
        self.threaded = threaded
        self.batchBytes = batchBytes
        buffer = ByteBuffer(capacity: batchBytes + SegmentFormat.maxSegmentBytes)
        guard threaded else { return }
        free = (1..<Self.batchCount).map { _ in ByteBuffer(capacity: batchBytes + SegmentFormat.maxSegmentBytes) }
        let thread = Thread { [self] in consume() }
        thread.name = "velo-segments"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Bytes of the segment being filled.
    var segmentBytes: Int { buffer.count - segmentStart }

    /// Ends the segment being filled after its `rows` rows, the last with key `lastKey`.
    /// - Throws: what the deduplicator threw (for an earlier segment when threaded).
    func endSegment(rows: Int, lastKey: Int64) throws {
        guard threaded else {
            try deduplicator.add(UnsafeRawBufferPointer(start: buffer.base, count: buffer.count), rows: rows, lastKey: lastKey)
            buffer.removeAll()
            return
        }
        segments.append(Segment(end: buffer.count, rows: rows, lastKey: lastKey))
        segmentStart = buffer.count
        if buffer.count >= batchBytes { try handOver() }
    }

    /// Hands over the last batch, waits for the deduplicator to take every segment and returns what it made of
    /// the table. The segment being filled must have ended.
    func finish() throws -> SegmentedSnapshotWriter.Scanned {
        precondition(segmentBytes == 0, "SegmentHandOff: a segment was not ended")
        if threaded {
            if !segments.isEmpty { try handOver() }
            condition.lock()
            ended = true
            condition.broadcast()
            while !finished { condition.wait() }
            let error = failure
            condition.unlock()
            if let error { throw error }
        }
        return try deduplicator.finish()
    }

    /// Stops the deduplicator's thread (the table is abandoned).
    func cancel() {
        guard threaded else { return }
        condition.lock()
        if failure == nil { failure = CancellationError() }
        ended = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func handOver() throws {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        queue.append(Batch(bytes: buffer, segments: segments))
        condition.broadcast()
        segments.removeAll(keepingCapacity: true)
        segmentStart = 0
        while free.isEmpty && failure == nil { condition.wait() }
        if let failure { throw failure }
        buffer = free.removeLast()
    }

    private func consume() {
        while true {
            condition.lock()
            while queue.isEmpty && !ended { condition.wait() }
            if queue.isEmpty {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = queue.removeFirst()
            let stop = failure != nil
            condition.unlock()
            if !stop {
                do {
                    var start = 0
                    for segment in batch.segments {
                        try deduplicator.add(
                            UnsafeRawBufferPointer(start: batch.bytes.base + start, count: segment.end - start),
                            rows: segment.rows, lastKey: segment.lastKey)
                        start = segment.end
                    }
                } catch {
                    condition.lock(); failure = error; condition.unlock()
                }
            }
            batch.bytes.removeAll()
            condition.lock()
            free.append(batch.bytes)
            condition.broadcast()
            condition.unlock()
        }
    }
}
