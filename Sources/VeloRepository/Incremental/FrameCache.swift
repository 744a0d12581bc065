import VeloFormat
import VeloStorage

/// Which decompressed pack frames a reader of one table keeps: at most `bytes` of them, and among them the frames
/// used again soonest. A table's list says, before any frame is read, which frame each segment is in, so the order
/// in which a reader will switch between frames is known in full (`uses`), and the cache follows Belady's rule:
/// when room is needed, the frame whose next use is furthest away goes (and a frame used later than every kept one,
/// or never again, is not kept at all).
///
/// Why not least-recently-used: after N scattered updates, a table's segments interleave the old frames with the
/// frames of each update's new versions, N + 1 streams read side by side. With fewer places than streams, LRU
/// misses on every switch (a verify after six such updates decompressed each new frame 40 to 48 times, 704 MB of
/// frames from a 107 MB repository); the same places under this rule keep the streams used soonest, and with
/// a place per stream every frame is read once. `FramePrefetcher` replays the same cache to read ahead exactly the
/// frames the reader will miss.
package struct FrameCache {
    /// The most decompressed bytes a reader keeps: eight frames of `SegmentFormat.frameBytes` (the original
    /// frames and seven updates' streams), within the documented memory bounds of `verify` and `restore`.
    package static let defaultBytes = 8 << 20

    /// The frames (indexes in the list's frame table) in the order the segments switch to them.
    private let uses: [Int32]
    /// For each position of `uses`, the next position that uses the same frame (`never` when there is none).
    private let nextUse: [Int32]
    /// Each frame's decompressed size, by index.
    private let sizes: [Int]
    /// For each frame, its earliest use at or after `cursor` (found lazily along `nextUse`), `never` when none.
    private var pending: [Int32]
    /// Position in `uses` of the use after the last one recorded.
    private var cursor: Int32 = 0
    private let bytes: Int
    /// Kept frames, and their decompressed bytes in all.
    private var kept: [Int] = []
    private var held = 0
    private static let never = Int32.max

    /// A cache for readers of `list`, its uses taken from the list's segments (the list itself is not moved).
    init(list: SegmentList, bytes: Int = FrameCache.defaultBytes) throws {
        var copy = list
        var uses: [Int] = []
        while let segment = try copy.next() {
            if uses.last != segment.frame { uses.append(segment.frame) }
        }
        self.init(uses: uses, sizes: list.frames.map(\.rawBytes), bytes: bytes)
    }

    /// A cache for a reader that will use the frames `uses` (indexes into `sizes`) in that order.
    init(uses: [Int], sizes: [Int], bytes: Int = FrameCache.defaultBytes) {
        self.uses = uses.map { Int32(truncatingIfNeeded: $0) }
        self.sizes = sizes
        self.bytes = bytes
        var next = [Int32](repeating: Self.never, count: uses.count)
        var pending = [Int32](repeating: Self.never, count: sizes.count)
        for position in uses.indices.reversed() where sizes.indices.contains(uses[position]) {
            next[position] = pending[uses[position]]
            pending[uses[position]] = Int32(position)
        }
        nextUse = next
        self.pending = pending
    }

    /// The frames in the order they are used.
    var useOrder: [Int] { uses.map(Int.init) }

    /// Records a use of `frame`: whether it was kept already (a hit); if not, whether to keep it now, and the kept
    /// frames it pushes out.
    mutating func use(_ frame: Int) -> (hit: Bool, keep: Bool, evicted: [Int]) {
        let nextOfFrame: Int32
        if let position = firstUse(of: frame), position != Self.never {
            cursor = position + 1
            nextOfFrame = nextUse[Int(position)]
        } else {
            nextOfFrame = Self.never  // a use the list did not foresee: not kept
        }
        if kept.contains(frame) { return (true, false, []) }
        guard nextOfFrame != Self.never, sizes.indices.contains(frame), sizes[frame] <= bytes else { return (false, false, []) }
        var evicted: [Int] = []
        while held + sizes[frame] > bytes {
            // The kept frame used again last goes, unless the new frame is used later still (then it is not kept).
            let (index, furthest) = kept.indices.map { ($0, firstUse(of: kept[$0]) ?? Self.never) }.max { $0.1 < $1.1 }!
            guard furthest > nextOfFrame else { return (false, false, evicted) }
            held -= sizes[kept[index]]
            evicted.append(kept.remove(at: index))
        }
        kept.append(frame)
        held += sizes[frame]
        return (false, true, evicted)
    }

    /// The position of `frame`'s first use at or after `cursor` (`never`: no more), nil for a frame not in the list.
    private mutating func firstUse(of frame: Int) -> Int32? {
        guard pending.indices.contains(frame) else { return nil }
        var position = pending[frame]
        while position != Self.never && position < cursor { position = nextUse[Int(position)] }
        pending[frame] = position
        return position
    }
}
