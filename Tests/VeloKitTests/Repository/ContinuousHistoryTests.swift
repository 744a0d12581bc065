import Foundation
import Testing

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// How a source's history is read from its batches' sections: chains continue only frame by frame or across a
/// log started over right after it, and anything else is a gap, never a silent hole.
@Suite struct ContinuousHistoryTests {
    static let generation = WALGeneration(checkpointSequence: 4, salt1: 100, salt2: 7)

    static func frames(_ generation: WALGeneration, first: Int, count: Int, seen: Int64) -> CapturedFrames {
        CapturedFrames(
            generation: generation, pageSize: 4096, first: first, count: count, offset: 0, checksum: .zero, bigEndianChecksums: false,
            commits: [CapturedCommit(frame: first + count - 1, pages: 10, seen: seen)])
    }

    static func base(_ generation: WALGeneration?) -> CaptureBase {
        CaptureBase(
            object: "0000000001000-0000000000000000-0000000000000000.base", pageSize: 4096, bytes: 40960, sha256: "",
            log: generation.map { WALPosition(generation: $0, pageSize: 4096, bigEndianChecksums: false, frames: 0, checksum: .zero) })
    }

    static func batch(_ n: Int) -> StoredName { CaptureBatch.name(written: Int64(n) * 1000, stream: "0000000000000000", sequence: n) }

    @Test func framesThatContinueOrFollowARestartedLogExtendTheChain() throws {
        var history = ContinuousHistory(source: "/db")
        let next = WALGeneration(checkpointSequence: 5, salt1: 101, salt2: 999)
        history.add(CapturedSource(source: "/db", through: 1000, base: Self.base(Self.generation)), batch: Self.batch(1))
        history.add(
            CapturedSource(source: "/db", through: 2000, frames: Self.frames(Self.generation, first: 1, count: 3, seen: 1900)),
            batch: Self.batch(2))
        history.add(
            CapturedSource(source: "/db", through: 3000, frames: Self.frames(Self.generation, first: 4, count: 2, seen: 2900)),
            batch: Self.batch(3))
        history.add(
            CapturedSource(source: "/db", through: 4000, frames: Self.frames(next, first: 1, count: 2, seen: 3900)), batch: Self.batch(4))
        #expect(history.chains.count == 1 && history.gaps.isEmpty)
        #expect(history.windows == [1000...4000])
        let plan = try history.plan(at: 2950)
        #expect(plan.segments.map(\.through) == [3, 5] && plan.lastCommit?.seen == 2900)
    }

    @Test func aLogRestartedByANewConnectionFollowsThoughItsCheckpointSequenceDoesNotGrow() throws {
        // SQLite writes the restarting connection's own counter as the checkpoint sequence: a connection opened
        // for one request (PHP's) writes 1 whatever came before. Salt-1 one more is what follows.
        var history = ContinuousHistory(source: "/db")
        let restarted = WALGeneration(checkpointSequence: 1, salt1: 101, salt2: 31337)
        #expect(Self.generation.isFollowed(by: restarted))
        #expect(!Self.generation.isFollowed(by: WALGeneration(checkpointSequence: 5, salt1: 102, salt2: 1)), "two restarts later")
        history.add(CapturedSource(source: "/db", through: 1000, base: Self.base(Self.generation)), batch: Self.batch(1))
        history.add(
            CapturedSource(source: "/db", through: 2000, frames: Self.frames(Self.generation, first: 1, count: 3, seen: 1900)),
            batch: Self.batch(2))
        history.add(
            CapturedSource(source: "/db", through: 3000, frames: Self.frames(restarted, first: 1, count: 2, seen: 2900)),
            batch: Self.batch(3))
        #expect(history.chains.count == 1 && history.gaps.isEmpty && history.windows == [1000...3000])
    }

    @Test func framesThatSkipAFrameEndTheChainWithAGap() throws {
        var history = ContinuousHistory(source: "/db")
        history.add(CapturedSource(source: "/db", through: 1000, base: Self.base(Self.generation)), batch: Self.batch(1))
        history.add(
            CapturedSource(source: "/db", through: 2000, frames: Self.frames(Self.generation, first: 1, count: 3, seen: 1900)),
            batch: Self.batch(2))
        history.add(
            CapturedSource(source: "/db", through: 3000, frames: Self.frames(Self.generation, first: 5, count: 2, seen: 2900)),
            batch: Self.batch(3))
        #expect(history.windows == [1000...2000])
        #expect(history.gaps.count == 1 && history.gaps[0].reason.contains("do not continue"))
        #expect(throws: PointInTimeError.self) { try history.plan(at: 2500) }
        // The next base closes the gap and starts a new chain.
        history.add(
            CapturedSource(
                source: "/db", through: 5000, gap: CaptureGap(from: 2000, to: 5000, reason: "velo stopped"), base: Self.base(nil)),
            batch: Self.batch(4))
        #expect(history.windows == [1000...2000, 5000...5000])
        #expect(history.gaps[0].to == 5000)
        do {
            _ = try history.plan(at: 3000)
            Issue.record("a moment in the gap was planned")
        } catch let error as PointInTimeError {
            #expect(error.description.contains("falls in a gap") && error.description.contains("1970-01-01T00:00:02.000Z"))
            #expect(error.description.contains("1970-01-01T00:00:05.000Z"))
        }
    }
}

/// A batch header velo never writes is damage, refused before a reader sizes a buffer or places a page by it.
@Suite struct CaptureHeaderCheckTests {
    static func frames(pageSize: Int = 4096, first: Int = 1, count: Int = 2, commitAt: Int = 2) -> CapturedSource {
        CapturedSource(
            source: "/db", through: 1,
            frames: CapturedFrames(
                generation: ContinuousHistoryTests.generation, pageSize: pageSize, first: first, count: count, offset: 0, checksum: .zero,
                bigEndianChecksums: false, commits: [CapturedCommit(frame: commitAt, pages: 3, seen: 1)]))
    }

    @Test func soundSectionsPassAndHostileOnesAreNamed() {
        #expect(CaptureObjectReader.problem(Self.frames()) == nil)
        #expect(CaptureObjectReader.problem(Self.frames(pageSize: 1 << 40))?.contains("page size") == true)
        #expect(CaptureObjectReader.problem(Self.frames(pageSize: 3000)) != nil)
        #expect(CaptureObjectReader.problem(Self.frames(first: 0)) != nil)
        #expect(CaptureObjectReader.problem(Self.frames(commitAt: 9))?.contains("outside frames") == true)
        #expect(CaptureObjectReader.problem(Self.frames(count: 3))?.contains("do not end with a commit") == true)
    }
}
