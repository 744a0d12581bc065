import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The reader keeps a few decompressed frames, so segments that alternate between an old frame and the frame
/// of their new versions read each frame once; the read-ahead order replays the same policy.
@Suite struct FrameCacheTests {
    static func frame(_ n: Int, raw: Int = 1 << 20) -> SegmentList.Frame {
        SegmentList.Frame(
            pack: String(repeating: "ab", count: 32), offset: Int64(n) << 20, length: 100, rawBytes: raw,
            sha256: [UInt8](repeating: UInt8(n), count: 32))
    }

    @Test func alternatingFramesStayCachedAndTheLeastRecentlyUsedGoesFirst() {
        var cache = FrameCache(frames: 2, bytes: 8 << 20)
        let (a, b, c) = (Self.frame(1), Self.frame(2), Self.frame(3))
        #expect(!cache.use(a).hit)
        #expect(!cache.use(b).hit)
        for _ in 0..<10 {
            #expect(cache.use(a).hit)
            #expect(cache.use(b).hit)
        }
        let third = cache.use(c)
        #expect(!third.hit && third.evicted == [a])
        #expect(cache.use(b).hit)
        #expect(!cache.use(a).hit)
    }

    @Test func theByteBoundKeepsOneFrameAtLeast() {
        var cache = FrameCache(frames: 4, bytes: 3 << 20)
        #expect(!cache.use(Self.frame(1, raw: 2 << 20)).hit)
        let big = cache.use(Self.frame(2, raw: 5 << 20))
        #expect(!big.hit && big.evicted.count == 1)
        #expect(cache.use(Self.frame(2, raw: 5 << 20)).hit)
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
        #expect(try FramePrefetcher.order(of: list, cache: FrameCache(frames: 1)).count == 41)
    }
}
