import VeloFormat
import VeloStorage

/// Which decompressed pack frames a reader keeps, least recently used out first: at most `frames` of them and
/// `bytes` of their contents (one frame always). After scattered updates a table's segments alternate between
/// an old frame and the frame holding the new versions; keeping both (and a few more, for changes made on
/// different days) reads each frame once instead of once per switch. `FramePrefetcher.order(of:)` replays the
/// same policy, so it reads ahead exactly the frames the reader will miss.
package struct FrameCache {
    private let frames: Int
    private let bytes: Int
    /// Cached frames, least recently used first.
    private var order: [SegmentList.Frame] = []
    private var held = 0

    init(frames: Int = 4, bytes: Int = 8 << 20) {
        self.frames = max(frames, 1)
        self.bytes = bytes
    }

    /// Records a use of `frame`: whether it was cached, and the frames it pushed out (when it was not).
    mutating func use(_ frame: SegmentList.Frame) -> (hit: Bool, evicted: [SegmentList.Frame]) {
        if let index = order.firstIndex(of: frame) {
            order.append(order.remove(at: index))
            return (true, [])
        }
        var evicted: [SegmentList.Frame] = []
        while !order.isEmpty && (order.count >= frames || held + frame.rawBytes > bytes) {
            let old = order.removeFirst()
            held -= old.rawBytes
            evicted.append(old)
        }
        order.append(frame)
        held += frame.rawBytes
        return (false, evicted)
    }
}
