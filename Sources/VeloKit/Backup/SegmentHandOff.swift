import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Carries one table's segments from the thread that reads and encodes rows to a `SegmentDeduplicator` on a
/// thread of its own, in batches of whole segments, so that hashing, matching and packing overlap with SQLite
/// and the encoder (after a small change, hashing is most of what a backup does besides reading). The reader
/// encodes rows straight into `buffer` and calls `endSegment` at each boundary. Memory is a fixed pool of
/// batches handed over through a `PipelineStage` with one worker, whose outputs are the emptied batches.
/// Unthreaded, each segment goes to the deduplicator as it ends, on the reader's thread.
final class SegmentHandOff {
    /// Where the reader encodes the rows of the segment it is filling (after the batch's earlier segments).
    private(set) var buffer: ByteBuffer
    /// Where the segment being filled starts in `buffer`.
    private(set) var segmentStart = 0

    private struct Segment {
        var end: Int
        var rows: Int
        var lastKey: Int64
    }

    private let deduplicator: SegmentDeduplicator
    private let stage: PipelineStage<(ByteBuffer, [Segment]), ByteBuffer>?
    private var segments: [Segment] = []
    /// Batches of the pool not handed over yet.
    private var fresh: Int

    /// Bytes of segments gathered before a batch is handed over.
    private let batchBytes: Int
    /// Batches in the pool (see `FrameCompressor.spareSlots` for how the pipeline's depth was chosen).
    static let batchCount = 5

    /// - Parameters:
    ///   - threaded: run the deduplicator on a thread of its own (else on the caller's).
    ///   - batchBytes: bytes of segments gathered before a batch is handed over.
    init(deduplicator: SegmentDeduplicator, threaded: Bool, batchBytes: Int = 512 << 10) {
        self.deduplicator = deduplicator
        self.batchBytes = batchBytes
        buffer = ByteBuffer(capacity: batchBytes + SegmentFormat.maxSegmentBytes)
        fresh = Self.batchCount - 1
        guard threaded else {
            stage = nil
            return
        }
        // After the deduplicator failed, later batches only come back.
        var failed = false
        stage = PipelineStage(workers: 1, capacity: Self.batchCount, name: "velo-segments") { _ in
            { batch in
                let (bytes, segments) = batch
                defer { bytes.removeAll() }
                guard !failed else { return bytes }
                do {
                    var start = 0
                    for segment in segments {
                        try deduplicator.add(
                            UnsafeRawBufferPointer(start: bytes.base + start, count: segment.end - start),
                            rows: segment.rows, lastKey: segment.lastKey)
                        start = segment.end
                    }
                } catch {
                    failed = true
                    throw error
                }
                return bytes
            }
        }
    }

    deinit { stage?.stop() }

    /// Bytes of the segment being filled.
    var segmentBytes: Int { buffer.count - segmentStart }

    /// Ends the segment being filled after its `rows` rows, the last with key `lastKey`.
    /// - Throws: what the deduplicator threw (for an earlier segment when threaded).
    func endSegment(rows: Int, lastKey: Int64) throws {
        guard stage != nil else {
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
        if let stage {
            if !segments.isEmpty {
                stage.submit((buffer, segments))
                segments.removeAll()
            }
            while try stage.next() != nil {}
            stage.stop()
        }
        return try deduplicator.finish()
    }

    /// Stops the deduplicator's thread (the table is abandoned).
    func cancel() {
        stage?.stop()
    }

    /// Hands the batch over and takes an empty one: one never used yet, or the oldest one handed over, once its
    /// segments are taken.
    private func handOver() throws {
        stage!.submit((buffer, segments))
        segments.removeAll(keepingCapacity: true)
        segmentStart = 0
        if fresh > 0 {
            fresh -= 1
            buffer = ByteBuffer(capacity: batchBytes + SegmentFormat.maxSegmentBytes)
        } else {
            buffer = try stage!.next()!
        }
    }
}
