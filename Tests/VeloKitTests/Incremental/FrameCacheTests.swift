import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The reader keeps the decompressed frames it will use again soonest (its list tells it the order), so segments
/// that interleave an old frame with the frames of several updates' new versions read each frame once; the
/// read-ahead order replays the same cache.
@Suite struct FrameCacheTests {
    static func frame(_ n: Int, raw: Int = 1 << 20) -> SegmentList.Frame {
        SegmentList.Frame(
            pack: String(repeating: "ab", count: 32), offset: Int64(n) << 20, length: 100, rawBytes: raw,
            sha256: [UInt8](repeating: UInt8(n), count: 32))
    }

    /// The misses of a reader that uses `uses` with room for `room` frames of 1 MiB.
    static func misses(_ uses: [Int], room: Int, frames: Int) -> Int {
        var cache = FrameCache(uses: uses, sizes: Array(repeating: 1 << 20, count: frames), bytes: room << 20)
        return uses.filter { !cache.use($0).hit }.count
    }

    @Test func alternatingFramesAreEachReadOnce() {
        let uses = Array(repeating: [0, 1], count: 10).flatMap { $0 } + [2, 1, 0]
        #expect(Self.misses(uses, room: 2, frames: 3) == 3)
    }

    @Test func interleavedStreamsReadEachFrameOnceWhenThereIsAPlaceForEach() {
        // The original frames (0...3, one after the other) interleaved with six updates' frames (4...9), as a
        // table's segments are after six scattered updates: seven streams.
        var uses: [Int] = []
        for original in 0..<4 { for _ in 0..<5 { for update in 4..<10 { uses += [original, update] } } }
        #expect(Self.misses(uses, room: 8, frames: 10) == 10)
        // With fewer places than streams, the frames used soonest stay: least-recently-used would miss every
        // switch (240 of them); this misses a fraction.
        let tight = Self.misses(uses, room: 4, frames: 10)
        #expect(tight < uses.count / 2, "\(tight) misses of \(uses.count) uses")
    }

    @Test func theFrameUsedAgainLastGoesAndOneUsedLaterStillOrNeverIsNotKept() {
        var cache = FrameCache(uses: [0, 1, 2, 0, 1, 2], sizes: Array(repeating: 1 << 20, count: 3), bytes: 2 << 20)
        #expect(cache.use(0) == (false, true, []))
        #expect(cache.use(1) == (false, true, []))
        #expect(cache.use(2) == (false, false, []))  // used again after 0 and 1: not kept, nothing pushed out
        #expect(cache.use(0).hit && cache.use(1).hit)

        cache = FrameCache(uses: [0, 1, 2, 0, 2, 1, 3], sizes: Array(repeating: 1 << 20, count: 4), bytes: 2 << 20)
        _ = (cache.use(0), cache.use(1))
        #expect(cache.use(2) == (false, true, [1]))  // 1 is used again last: it goes
        #expect(cache.use(0).hit && cache.use(2).hit)
        #expect(cache.use(1) == (false, false, []))  // never used again
        #expect(cache.use(3) == (false, false, []))
    }

    @Test func aFrameLargerThanTheRoomIsNeverKept() {
        var cache = FrameCache(uses: [0, 1, 0, 1], sizes: [1 << 20, 9 << 20], bytes: 8 << 20)
        #expect(cache.use(0).keep)
        #expect(cache.use(1) == (false, false, []))
        #expect(cache.use(0).hit)
        #expect(!cache.use(1).hit)
    }

    @Test func readAheadListsOnlyTheFramesTheReaderWillMiss() throws {
        // Segments alternating between an old and a new frame, then a third frame.
        var builder = SegmentListBuilder()
        let (old, new, next) = (Self.frame(1), Self.frame(2), Self.frame(3))
        var key: Int64 = 0
        for i in 0..<40 {
            key += 1
            builder.append(frame: i % 2 == 0 ? old : new, offset: (i / 2) * 10, bytes: 10, rows: 1, lastKey: key, hash: (0, 0))
        }
        key += 1
        builder.append(frame: next, offset: 0, bytes: 10, rows: 1, lastKey: key, hash: (0, 0))
        let list = try SegmentList(bytes: builder.finish(), name: "list")
        #expect(try FramePrefetcher.order(of: list) == [old, new, next])
        // Room for one frame: the old one stays (it is used again first), the new one is read at each use.
        #expect(FramePrefetcher.order(of: list, cache: try FrameCache(list: list, bytes: 1 << 20)).count == 22)
    }
}
