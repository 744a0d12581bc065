import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Segments handed to the deduplicator on a thread of their own, in many small batches, make exactly what the
/// deduplicator makes on the reading thread: the same parts (rows, bytes, SHA-256), the same reuse of the
/// previous list's segments, and lists whose segments read back as the bytes handed in.
@Suite struct SegmentHandOffTests {
    static let item = TablePlan.Item(
        table: "t", group: .records, role: .collection, collection: "t", columns: ["a"], includeRows: true, hasRowID: true)

    /// Segments of whole lines: (bytes, rows, last key), keys increasing.
    static func segments(changing changed: Set<Int> = []) -> [([UInt8], Int, Int64)] {
        var random = SeededRandom(seed: 11)
        return (0..<1_500).map { i in
            let rows = 1 + Int(random.next() % 5)
            var bytes: [UInt8] = []
            for r in 0..<rows {
                let length = 20 + Int(random.next() % 600)
                bytes += Array("[\(i),\(r),\"".utf8) + (0..<length).map { _ in UInt8(97 + random.next() % 26) } + Array("\"]\n".utf8)
                if changed.contains(i) && r == 0 { bytes[1] = UInt8(ascii: "9") }
            }
            return (bytes, rows, Int64(i * 10 + rows))
        }
    }

    static func run(
        _ segments: [([UInt8], Int, Int64)], old: SegmentList?, store: PieceStore, threaded: Bool,
        partBytes: Int = 100_000, maxPartBytes: Int = ArchiveFormat.maxDataEntryBytes
    ) throws -> SegmentedSnapshotWriter.Scanned {
        let packs = try PackWriter(store: store, level: 3, workers: threaded ? 2 : 0)
        let deduplicator = try SegmentDeduplicator(
            item: item, old: old, packs: packs, hashKey: Array("key".utf8), partBytes: partBytes,
            pendingLimit: threaded ? 3 : 1 << 14, maxPartBytes: maxPartBytes)
        let handOff = SegmentHandOff(deduplicator: deduplicator, threaded: threaded, batchBytes: 4_096)
        for (bytes, rows, key) in segments {
            bytes.withUnsafeBytes { handOff.buffer.append($0) }
            try handOff.endSegment(rows: rows, lastKey: key)
        }
        let scanned = try handOff.finish()
        try packs.finish()
        return scanned
    }

    /// Every segment of `list`, read back from its frame.
    static func readBack(_ scanned: SegmentedSnapshotWriter.Scanned, store: PieceStore) throws -> [[UInt8]] {
        var list = try SegmentList(bytes: scanned.list, name: "list")
        var frames: [SegmentList.Frame: [UInt8]] = [:]
        var out: [[UInt8]] = []
        while let segment = try list.next() {
            let frame = list.frames[segment.frame]
            if frames[frame] == nil { frames[frame] = try store.frame(frame) }
            out.append(Array(frames[frame]![segment.offset..<(segment.offset + segment.bytes)]))
        }
        return out
    }

    @Test func aThreadedHandOffMakesWhatAnInlineOneMakes() throws {
        let root = Fixtures.temporaryDirectory("segment-hand-off").path
        let store = PieceStore(root: root)
        let first = Self.segments()
        let inline = try Self.run(first, old: nil, store: store, threaded: false)
        let threaded = try Self.run(first, old: nil, store: store, threaded: true)
        #expect(inline.parts.count > 3)
        #expect(threaded.parts == inline.parts)
        #expect(threaded.segments == first.count && inline.newSegments == first.count && threaded.newSegments == first.count)
        #expect(try Self.readBack(threaded, store: store) == first.map(\.0))
        #expect(try Self.readBack(inline, store: store) == first.map(\.0))

        // The next snapshot, with a few segments changed: the rest are reused from the previous list.
        let changed: Set<Int> = [3, 500, 501, 1_499]
        let second = Self.segments(changing: changed)
        let old = try SegmentList(bytes: threaded.list, name: "old")
        let again = try Self.run(second, old: old, store: store, threaded: true)
        let againInline = try Self.run(second, old: try SegmentList(bytes: inline.list, name: "old"), store: store, threaded: false)
        #expect(again.newSegments == changed.count)
        #expect(againInline.newSegments == changed.count)
        #expect(again.parts == againInline.parts)
        #expect(try Self.readBack(again, store: store) == second.map(\.0))
    }

    /// A part is closed after the segment that reaches the target, or before a segment that would take it past
    /// the largest entry a reader accepts (a segment may end with a 16 MiB row, after a 16 MiB target).
    @Test func noPartGrowsPastTheLargestEntry() throws {
        let store = PieceStore(root: Fixtures.temporaryDirectory("part-cap").path)
        let segments = Self.segments()
        let largest = segments.map(\.0.count).max()!
        let scanned = try Self.run(segments, old: nil, store: store, threaded: false, partBytes: 20_000, maxPartBytes: 20_000 + largest / 2)
        #expect(scanned.parts.allSatisfy { $0.bytes <= Int64(20_000 + largest / 2) }, "\(scanned.parts.map(\.bytes).max()!)")
        #expect(scanned.parts.reduce(0) { $0 + $1.segments } == segments.count)
        #expect(try Self.readBack(scanned, store: store) == segments.map(\.0))
    }
}
