import Foundation

/// Reads a table's frames ahead of the reader on a thread of its own, in the order its segments use them (each
/// frame read, checked against its SHA-256 and decompressed), so that rebuilding parts overlaps with what the
/// reader does with them, as a full archive's decompression does (`DecompressionPipeline`). At most `ahead`
/// frames wait, so memory stays bounded.
final class FramePrefetcher: @unchecked Sendable {
    private let store: PieceStore
    private let order: [SegmentList.Frame]
    private let condition = NSCondition()
    private var ready: [(index: Int, result: Result<[UInt8], Error>)] = []
    private var next = 0
    private var consumed = 0
    private var stopped = false
    private let ahead = 4

    /// Starts reading `order` (the frames in order of use) from the repository's `storage`.
    init(storage: any RepositoryStorage, order: [SegmentList.Frame]) {
        store = PieceStore(storage: storage)
        self.order = order
        let thread = Thread { [self] in run() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The frames of `list` in the order its segments use them, as a reader with a `FrameCache` will miss them
    /// (a frame used again after the cache let it go appears again).
    static func order(of list: SegmentList, cache: FrameCache = FrameCache()) throws -> [SegmentList.Frame] {
        var copy = list
        var cache = cache
        var out: [SegmentList.Frame] = []
        var last = -1
        while let segment = try copy.next() {
            if segment.frame != last, !cache.use(list.frames[segment.frame]).hit { out.append(list.frames[segment.frame]) }
            last = segment.frame
        }
        return out
    }

    private func run() {
        while true {
            condition.lock()
            while !stopped && next < order.count && next - consumed >= ahead { condition.wait() }
            if stopped || next >= order.count {
                condition.unlock()
                return
            }
            let index = next
            next += 1
            condition.unlock()
            let result = Result { try store.frame(order[index]) }
            condition.lock()
            ready.append((index, result))
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The bytes of `frame` when it is among the next frames in order (frames before it are dropped); nil when
    /// it is not, and the caller reads it itself.
    func take(_ frame: SegmentList.Frame) throws -> [UInt8]? {
        condition.lock()
        defer { condition.unlock() }
        guard let position = order[consumed..<min(order.count, consumed + 64)].firstIndex(of: frame) else { return nil }
        if next < position { next = position }  // skipped frames are not read
        consumed = position
        condition.broadcast()
        while true {
            if let found = ready.firstIndex(where: { $0.index == position }) {
                let result = ready[found].result
                ready.removeAll { $0.index <= position }
                consumed = position + 1
                condition.broadcast()
                return try result.get()
            }
            if stopped { return nil }
            condition.wait()
        }
    }

    /// Stops the thread (frames read ahead are dropped).
    func stop() {
        condition.lock()
        stopped = true
        ready.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    deinit { stop() }
}
