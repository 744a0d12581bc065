import Foundation
import VeloFormat
import VeloStorage

/// Reads a table's frames ahead of the reader on a thread of its own, in the order its segments use them (each
/// frame read, checked against its SHA-256 and decompressed), so that rebuilding parts overlaps with what the
/// reader does with them, as a full archive's decompression does (`DecompressionPipeline`). At most `ahead`
/// frames wait, so memory stays bounded.
package final class FramePrefetcher {
    private let order: [SegmentList.Frame]
    /// Reads `order[index]` on a thread of its own, in order.
    private let stage: PipelineStage<Int, [UInt8]>
    /// The next index of `order` to submit, and the next whose bytes come out of the stage.
    private var submitted = 0
    private var consumed = 0
    private let ahead = 4

    /// Starts reading `order` (the frames in order of use) from the repository's `storage`.
    init(storage: any RepositoryStorage, order: [SegmentList.Frame]) {
        self.order = order
        stage = PipelineStage(workers: 1, capacity: ahead, name: "velo-frames") { _ in
            let store = PieceStore(storage: storage)
            return { index in try store.frame(order[index]) }
        }
        fill()
    }

    /// The frames of `list` in the order a reader keeping `cache` (made for the list) will miss them: a frame used
    /// again after the cache let it go appears again.
    static func order(of list: SegmentList, cache: FrameCache) -> [SegmentList.Frame] {
        var cache = cache
        return cache.useOrder.filter { !cache.use($0).hit }.map { list.frames[$0] }
    }

    /// As `order(of:cache:)`, with the cache a reader of `list` keeps by default.
    static func order(of list: SegmentList) throws -> [SegmentList.Frame] {
        order(of: list, cache: try FrameCache(list: list))
    }

    /// Submits the next frames in order while there is room.
    private func fill() {
        while stage.hasRoom && submitted < order.count {
            stage.submit(submitted)
            submitted += 1
        }
    }

    /// The bytes of `frame` when it is among the next frames in order (frames before it are dropped, and those not
    /// read yet are not read); nil when it is not, and the caller reads it itself.
    func take(_ frame: SegmentList.Frame) throws -> [UInt8]? {
        guard let position = order[consumed..<min(order.count, consumed + 64)].firstIndex(of: frame) else { return nil }
        if position >= submitted {
            // Every frame in flight comes before it: the ones not started are dropped, the rest passed over.
            _ = stage.discardQueued()
            while stage.inFlight > 0 { _ = try? stage.next() }
            submitted = position
            consumed = position
            fill()
        }
        // Frames in flight before it come out first and are dropped.
        while consumed < position {
            _ = try? stage.next()  // a frame passed over: what reading it found does not matter
            consumed += 1
        }
        defer { fill() }
        consumed += 1
        return try stage.next()
    }

    /// Stops the thread (frames read ahead are dropped).
    func stop() {
        stage.stop()
    }

    deinit { stop() }
}
