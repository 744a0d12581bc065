import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Segment lists stored as patches against a full base list: a patch read with its base yields exactly the
/// new list's segments; a large change stores a new full list; bases stay alive while a snapshot uses them
/// and go when none does; a damaged base is named for every snapshot it breaks.
@Suite struct SegmentListPatchTests {
    typealias Entry = (frame: SegmentList.Frame, offset: Int, bytes: Int, rows: Int, lastKey: Int64, hash: (UInt64, UInt64))

    static func frame(_ pack: UInt8, _ n: Int) -> SegmentList.Frame {
        SegmentList.Frame(
            pack: SHA256Digest.hex([UInt8](repeating: pack, count: 32)), offset: Int64(n * 1000), length: 900,
            rawBytes: 64 * 2048, sha256: [UInt8](repeating: UInt8(n & 0xFF), count: 32))
    }

    /// `count` segments with keys 10, 20, … in frames of pack 1, 64 to a frame.
    static func entries(_ count: Int) -> [Entry] {
        (0..<count).map { i in (frame(1, i / 64), (i % 64) * 2048, 2000, 4, Int64(10 * (i + 1)), (UInt64(i), 0)) }
    }

    static func bytes(_ entries: [Entry]) -> [UInt8] {
        var builder = SegmentListBuilder()
        for e in entries {
            builder.append(frame: e.frame, offset: e.offset, bytes: e.bytes, rows: e.rows, lastKey: e.lastKey, hash: e.hash)
        }
        return builder.finish()
    }

    static func segments(_ list: SegmentList) throws -> [String] {
        var copy = list
        var out: [String] = []
        while let s = try copy.next() {
            let f = list.frames[s.frame]
            out.append("\(f.pack.prefix(4))@\(f.offset) \(s.offset)+\(s.bytes) r\(s.rows) k\(s.lastKey) h\(s.hash.0)")
        }
        return out
    }

    static func store(_ name: String) -> PieceStore {
        PieceStore(root: Fixtures.temporaryDirectory(name).path)
    }

    @Test func aPatchReadWithItsBaseYieldsTheNewListForUpdatesInsertsAndDeletes() throws {
        let store = Self.store("patch-roundtrip")
        let base = Self.entries(300)
        var new = base
        // Updates in place (a new frame of a new pack), deletes of a run and of the last, inserts at the start,
        // in the middle and at the end, and a segment moved to another place of its frame.
        for i in [5, 6, 150, 299] { new[i].frame = Self.frame(2, 0); new[i].offset = i * 10; new[i].hash = (UInt64(i) + 1_000_000, 0) }
        new.remove(at: 299)
        new.removeSubrange(100..<110)
        new.insert((Self.frame(2, 1), 0, 100, 1, 5, (7, 7)), at: 0)
        new.insert((Self.frame(2, 1), 100, 100, 1, 1505, (8, 8)), at: 151)
        new.append((Self.frame(1, 0), 4000, 100, 1, 99_999, (9, 9)))
        new[200].offset += 1
        let baseSHA = try store.writeList(Self.bytes(base), level: 3).sha256
        let newBytes = Self.bytes(new)
        let patch = try #require(try SegmentListPatch.make(base: try store.readList(baseSHA), baseSHA256: baseSHA, new: newBytes))
        #expect(patch.count < newBytes.count / 5, "a patch of \(patch.count) bytes for a list of \(newBytes.count)")
        let patchSHA = try store.writeList(patch, level: 3).sha256
        let merged = try store.readList(patchSHA)
        let expected = try SegmentList(bytes: newBytes, name: "new")
        #expect(merged.base == baseSHA)
        #expect(merged.segmentCount == new.count)
        #expect(try Self.segments(merged) == Self.segments(expected))
        #expect(Set(merged.packs) == Set(expected.packs))
        // The frames the new list names are all in the merged list's frame table.
        #expect(Set(expected.frames).isSubset(of: Set(merged.frames)))
        // Unchanged: a patch of no runs.
        let same = try #require(try SegmentListPatch.make(base: try store.readList(baseSHA), baseSHA256: baseSHA, new: Self.bytes(base)))
        #expect(
            try Self.segments(try SegmentList(base: try store.readList(baseSHA), patch: SegmentListPatch(bytes: same, name: "same")))
                == Self.segments(try store.readList(baseSHA)))
    }

    @Test func aPatchRefersToAFullListAndALargeChangeWritesANewOne() throws {
        let store = Self.store("patch-rebase")
        let first = Self.entries(400)
        let firstSHA = try store.writeList(Self.bytes(first), level: 3).sha256
        // Changes of 40%, 80% and 120% of the share past which a new full list is written, spread through the list.
        let step = Int(400 * SegmentListPatch.maxAddedShare * 0.4)
        let order = (0..<400).map { ($0 * 7) % 400 }  // 7 is prime to 400: every index once, scattered
        func changed(_ list: [Entry], _ range: Range<Int>, _ mark: UInt64) -> [Entry] {
            var out = list
            for i in order[range] { out[i].hash = (UInt64(i) + mark * 1_000_000, 0) }
            return out
        }
        let second = changed(first, 0..<step, 2)
        let a = try SegmentListPatch.store(
            Self.bytes(second), previous: try store.readList(firstSHA), previousSHA256: firstSHA, in: store, level: 3)
        #expect(a.base == firstSHA)
        // The next patch is against the same full list, not against the patch (depth 1).
        let third = changed(second, step..<2 * step, 3)
        let b = try SegmentListPatch.store(
            Self.bytes(third), previous: try store.readList(a.sha256), previousSHA256: a.sha256, in: store, level: 3)
        #expect(b.base == firstSHA)
        #expect(try Self.segments(try store.readList(b.sha256)) == Self.segments(try SegmentList(bytes: Self.bytes(third), name: "third")))
        // Past `maxAddedShare` of the base: a new full list.
        let fourth = changed(third, 2 * step..<3 * step, 4)
        let c = try SegmentListPatch.store(
            Self.bytes(fourth), previous: try store.readList(b.sha256), previousSHA256: b.sha256, in: store, level: 3)
        #expect(c.base == nil)
        let full = try store.readList(c.sha256)
        #expect(full.base == nil)
        #expect(try Self.segments(full) == Self.segments(try SegmentList(bytes: Self.bytes(fourth), name: "fourth")))
        // And the one after patches against that new list.
        var fifth = fourth
        fifth[0].hash = (5_000_000, 0)
        let d = try SegmentListPatch.store(Self.bytes(fifth), previous: full, previousSHA256: c.sha256, in: store, level: 3)
        #expect(d.base == c.sha256)
    }

    @Test func aVersion1DocumentOfFullListsStillReads() throws {
        let json = try JSONParser.parse(
            #"""
            {"format": "velo-segments", "version": 1, "source_state": null, "stored_bytes": 10, "tables": [
              {"name": "t", "list": "\#(String(repeating: "ab", count: 32))", "segments": 1, "new_segments": 1,
               "raw_bytes": 5, "new_raw_bytes": 5, "parts": [{"path": "rows/x/t/000001.vrows", "rows": 1, "bytes": 5,
               "sha256": "\#(String(repeating: "cd", count: 32))", "segments": 1}]}]}
            """#)
        let document = try SegmentsDocument(json: json)
        #expect(document.tables.first?.base == nil && document.version == 1)
        #expect(document.json["version"]?.intValue == 1 && document.json["tables"]?.arrayValue?.first?["base"] == nil)
        // A base in a version 1 document is refused: a version 1 reader would not know it.
        var tables = try #require(json["tables"]?.arrayValue)
        guard case .object(var fields) = tables[0] else { Issue.record("not an object"); return }
        fields.append(("base", .string(String(repeating: "ef", count: 32))))
        tables[0] = .object(fields)
        guard case .object(var top) = json else { return }
        top = top.map { $0.0 == "tables" ? ($0.0, .array(tables)) : $0 }
        #expect(throws: FormatProblem.self) { try SegmentsDocument(json: .object(top)) }
        top = top.map { $0.0 == "version" ? ($0.0, .int(2)) : $0 }
        let patched = try SegmentsDocument(json: .object(top))
        #expect(patched.version == 2 && patched.listPieces.count == 2)
    }

    /// Three backups of a source: the first stores full lists, a small change stores patches against them,
    /// a new column (every segment of one table new) stores that table's list whole again.
    static func threeSnapshots(_ name: String) throws -> (repo: Repository, ids: [String], documents: [SegmentsDocument]) {
        let source = try IncrementalBackupTests.source(posts: 600, name: name)
        let repo = try Repository.open(Fixtures.temporaryDirectory(name).appendingPathComponent("repo").path, create: true)
        var ids: [String] = []
        var documents: [SegmentsDocument] = []
        let changes = [
            "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 50 = 0",
            "ALTER TABLE _velo_posts ADD COLUMN shade TEXT DEFAULT 'dark'",
        ]
        for i in 0..<3 {
            if i > 0 { try Database(path: source, mode: .readWrite).execute(changes[i - 1]) }
            let result = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
            ids.append(result.id)
            documents.append(try IncrementalBackupTests.document(result))
        }
        return (repo, ids, documents)
    }

    @Test func aBaseIsKeptWhileASnapshotUsesItAndFreedWhenNoneDoes() throws {
        let (repo, ids, documents) = try Self.threeSnapshots("patch-prune")
        let first = try #require(documents[0].table("_velo_posts"))
        let second = try #require(documents[1].table("_velo_posts"))
        let third = try #require(documents[2].table("_velo_posts"))
        #expect(documents[0].version == 1 && first.base == nil)
        #expect(
            documents[1].version == (second.deltaFrames ? 3 : 2) && second.base == first.list,
            "a small change stores a patch against the first list")
        #expect(third.base == nil, "a new column stores a full list")
        let digests = try ids.map { try PieceSweepTests.rowsDigest(repo, $0) }
        func exists(_ sha: String) -> Bool { FileSystem.exists(repo.path(SegmentFormat.listPath(sha))) }
        func remove(_ id: String) throws {
            try repo.remove(try #require(try repo.catalog.entries().first { $0.id == id }))
            #expect(PieceSweep.run(repo).complete)
        }

        // The first snapshot goes: its list is the second's base and stays.
        try remove(ids[0])
        #expect(exists(first.list) && exists(second.list))
        #expect(try PieceSweepTests.rowsDigest(repo, ids[1]) == digests[1])
        let report = try Verifier.verify(.catalogued(try #require(try repo.catalog.entries().first { $0.id == ids[1] }), repository: repo))
        #expect(report.ok, "\(report.problems)")
        // The second goes too: nothing uses the base or the patch any more.
        try remove(ids[1])
        #expect(!exists(first.list) && !exists(second.list))
        #expect(try PieceSweepTests.rowsDigest(repo, ids[2]) == digests[2])
    }

    @Test func aDamagedBaseNamesEverySnapshotThatUsesIt() throws {
        let (repo, ids, documents) = try Self.threeSnapshots("patch-damaged")
        let base = try #require(documents[0].table("_velo_posts")).list
        let file = repo.path(SegmentFormat.listPath(base))
        var bytes = try FileSystem.read(file)
        bytes[bytes.count / 2] ^= 0x20
        try FileSystem.writeAtomically(bytes, to: file)
        for (i, id) in ids.enumerated() {
            let report = try Verifier.verify(.catalogued(try #require(try repo.catalog.entries().first { $0.id == id }), repository: repo))
            if i < 2 {
                #expect(!report.ok, "snapshot \(i) uses the damaged base")
                #expect(report.problems.contains { $0.contains(SegmentFormat.listPath(base)) }, "\(report.problems)")
            } else {
                #expect(report.ok, "snapshot \(i) has a list of its own: \(report.problems)")
            }
        }
    }
}

/// Stores as a backup does, in one step (the backup hands the write to `SegmentListWrites`).
extension PieceStore {
    func writeList(_ bytes: [UInt8], level: Int32) throws -> (sha256: String, written: Int64) {
        let sha = SHA256Digest.of(bytes)
        return (sha, try writeList(bytes, sha256: sha, level: level))
    }
}

extension SegmentListPatch {
    static func store(
        _ list: [UInt8], previous: SegmentList?, previousSHA256: String?, in store: PieceStore,
        level: Int32
    ) throws -> (sha256: String, base: String?, written: Int64) {
        let piece = piece(for: list, previous: previous, previousSHA256: previousSHA256, in: store)
        let written = try piece.bytes.map { try store.writeList($0, sha256: piece.sha256, level: level) } ?? 0
        return (piece.sha256, piece.base, written)
    }
}
