import Foundation
import VeloFormat
import VeloStorage

/// Compresses the frames of pack files on worker threads, each frame whole, and hands them back in the order
/// they were submitted, each with the SHA-256 of its compressed bytes. New frames do not depend on each other, so
/// `workers` threads compress `workers` frames at once while the caller reads and encodes the next rows; with 0
/// workers a frame is compressed on the caller's thread when it is submitted. At most `slots` frames are in
/// flight, so memory is bounded whatever the database's size. A frame submitted with delta bases is compressed
/// against them (read from the repository by the thread compressing it) when that makes it at most half the
/// size of a plain frame (`DeltaCompression`).
package final class FrameCompressor: @unchecked Sendable {
    /// A compressed frame, in submission order.
    struct Compressed {
        let ticket: Int
        let bytes: [UInt8]
        let rawBytes: Int
        let sha256: [UInt8]
        /// The frame's delta bases; empty for a plain frame.
        let bases: [SegmentList.Frame]
    }

    private struct Job {
        var ticket: Int
        var input: ByteBuffer
        var bases: [SegmentList.Frame]
    }

    private let stage: PipelineStage<Job, (Compressed, ByteBuffer)>
    private var spare: [ByteBuffer] = []

    /// Frames in flight beyond one per worker, by default: room for a frame that compresses slowly while the
    /// others go on (with one spare and three hand-off batches, a profile of a first backup showed both cores
    /// idle a fifth of the time; three spares and five batches made it 2.5% to 3.5% faster, for 1 to 3 MiB more).
    static let spareSlots = 3

    /// - Parameters:
    ///   - workers: compression threads (0: compress on the caller's thread).
    ///   - slots: frames submitted but not yet taken back, at most (at least `workers` + 1; by default
    ///     `workers` + `spareSlots`).
    ///   - storage: the repository's storage, where delta bases are read (nil: every frame is plain).
    init(level: Int32, workers: Int, slots: Int? = nil, storage: (any RepositoryStorage)? = nil) throws {
        stage = try PipelineStage(workers: workers, capacity: max(slots ?? workers + Self.spareSlots, workers + 1, 1), name: "velo-frame") {
            _ in
            let context = try DeltaCompression(level: level, storage: storage)
            return { job in (try context.compress(job.input, ticket: job.ticket, bases: job.bases), job.input) }
        }
    }

    deinit { stop() }

    /// Frames submitted and not yet taken back.
    var inFlight: Int { stage.inFlight }

    /// Whether another frame can be submitted without taking one back first.
    var hasFreeSlot: Bool { stage.hasRoom }

    /// The ticket the next frame submitted gets.
    var nextTicket: Int { stage.upcomingTicket }

    /// An empty buffer to gather the next frame in (one given back by a finished frame when there is one).
    func buffer() -> ByteBuffer {
        if let buffer = spare.popLast() { return buffer }
        return ByteBuffer(capacity: SegmentFormat.frameBytes + SegmentFormat.maxSegmentBytes)
    }

    /// Hands `input` over to be compressed; returns its ticket (0, 1, 2, … in submission order). The caller
    /// must not touch `input` again. Needs a free slot (`hasFreeSlot`).
    /// `bases` are the frame's delta bases (`DeltaBases`), if any.
    func submit(_ input: ByteBuffer, bases: [SegmentList.Frame] = []) -> Int {
        stage.submit(Job(ticket: stage.upcomingTicket, input: input, bases: bases))
    }

    /// The next frame in submission order: nil when none is in flight, or when it is not ready and `wait` is
    /// false.
    /// - Throws: what compressing it threw.
    func next(wait: Bool) throws -> Compressed? {
        guard let (compressed, input) = try stage.next(wait: wait) else { return nil }
        input.removeAll()
        spare.append(input)
        return compressed
    }

    /// Stops the workers (frames still queued are dropped) and waits for them to end.
    func stop() {
        stage.stop()
    }
}
