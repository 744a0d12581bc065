import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Delta frames: new segments compressed against the frames holding their old versions. A run of rows that
/// changed a little costs a few percent of a plain frame; every snapshot still restores exactly, prune keeps the
/// bases while a delta needs them, a damaged base is named for every snapshot it breaks, and lists name the
/// bases so that older readers are refused cleanly rather than misled.
@Suite struct DeltaFrameTests {
    static func frame(_ n: Int, raw: Int = 1 << 20, bases: [SegmentList.Frame] = []) -> SegmentList.Frame {
        SegmentList.Frame(
            pack: SHA256Digest.hex([UInt8](repeating: UInt8(n), count: 32)), offset: Int64(n) * 1000, length: 900,
            rawBytes: raw, sha256: [UInt8](repeating: UInt8(n), count: 32), bases: bases)
    }

    @Test func aListNamesEveryBaseOfItsDeltaFramesAndReadsThemBack() throws {
        let base1 = Self.frame(1), base2 = Self.frame(2), plain = Self.frame(3)
        let delta = Self.frame(4, bases: [base1, base2])
        var builder = SegmentListBuilder()
        builder.append(frame: plain, offset: 0, bytes: 100, rows: 1, lastKey: 1, hash: (1, 0))
        builder.append(frame: delta, offset: 0, bytes: 100, rows: 1, lastKey: 2, hash: (2, 0))
        let bytes = builder.finish()
        #expect(bytes.starts(with: SegmentList.magicWithDeltas))
        var list = try SegmentList(bytes: bytes, name: "test")
        #expect(list.hasDeltaFrames)
        #expect(Set(list.packs) == Set([base1, base2, plain, delta].map(\.pack)), "the bases' packs are the list's, so prune keeps them")
        _ = try list.next()
        let second = try #require(try list.next())
        #expect(list.frames[second.frame] == delta && list.frames[second.frame].bases == [base1, base2])

        // Without delta frames a list is written as before ("VSL1"), for older readers.
        var plainBuilder = SegmentListBuilder()
        plainBuilder.append(frame: plain, offset: 0, bytes: 100, rows: 1, lastKey: 1, hash: (1, 0))
        #expect(plainBuilder.finish().starts(with: SegmentList.magic))
    }

    @Test func aPatchCarriesTheBasesItsNewFramesNeed() throws {
        let old = Self.frame(1), unrelated = Self.frame(2)
        var baseBuilder = SegmentListBuilder()
        for i in 0..<8 { baseBuilder.append(frame: old, offset: i * 100, bytes: 100, rows: 1, lastKey: Int64(i), hash: (UInt64(i), 0)) }
        let baseBytes = baseBuilder.finish()
        let baseList = try SegmentList(bytes: baseBytes, name: "base")
        // The new list replaces segment 3 with one in a delta frame against the base's frame and another frame.
        let delta = Self.frame(5, bases: [old, unrelated])
        var newBuilder = SegmentListBuilder()
        for i in 0..<8 {
            if i == 3 {
                newBuilder.append(frame: delta, offset: 0, bytes: 100, rows: 1, lastKey: 3, hash: (99, 0))
            } else {
                newBuilder.append(frame: old, offset: i * 100, bytes: 100, rows: 1, lastKey: Int64(i), hash: (UInt64(i), 0))
            }
        }
        let newBytes = newBuilder.finish()
        let patchBytes = try #require(try SegmentListPatch.make(base: baseList, baseSHA256: SHA256Digest.of(baseBytes), new: newBytes))
        #expect(patchBytes.starts(with: SegmentListPatch.magicWithDeltas))
        let merged = try SegmentList(
            base: try SegmentList(bytes: baseBytes, name: "base"), patch: try SegmentListPatch(bytes: patchBytes, name: "patch"))
        #expect(try SegmentListPatchTests.segments(merged) == SegmentListPatchTests.segments(try SegmentList(bytes: newBytes, name: "new")))
        #expect(merged.frames.contains(delta) && merged.frames.contains(unrelated) && merged.hasDeltaFrames)
        #expect(Set(merged.packs) == Set([old, unrelated, delta].map(\.pack)))
    }

    @Test func aBaseThatIsItselfADeltaFrameIsRefused() throws {
        // Hand-made "VSL2": frame 0 has base 1, frame 1 has base 0.
        var bytes = SegmentList.magicWithDeltas
        var frames = [Self.frame(1), Self.frame(2)]
        frames[0].bases = [frames[1]]
        frames[1].bases = [frames[0]]
        let index = [frames[0].sha256: 0, frames[1].sha256: 1]
        FrameTable.write(
            packs: frames.map(\.pack), packIndex: [frames[0].pack: 0, frames[1].pack: 1], frames: frames, withBases: true,
            index: { index[$0.sha256]! }, to: &bytes)
        Varint.append(0, to: &bytes)
        #expect(throws: (any Error).self) { _ = try SegmentList(bytes: bytes, name: "piece x") }
    }

    @Test func basesAreTheOldFramesAndNoneWhenTheyWouldCostTooMuchToRead() {
        var bases = DeltaBases()
        let a = Self.frame(1), b = Self.frame(2)
        bases.noteReplaced(in: a)
        bases.noteReplaced(in: a)
        bases.noteReplaced(in: Self.frame(9, bases: [b]))  // a delta frame stands for its bases
        #expect(bases.take() == [a, b])
        #expect(bases.take().isEmpty, "each frame starts afresh")
        for n in 0...(SegmentFormat.maxDeltaBaseBytes >> 20) { bases.noteReplaced(in: Self.frame(n)) }
        #expect(
            bases.take().isEmpty,
            "old versions scattered over more than \(SegmentFormat.maxDeltaBaseBytes >> 20) MiB of frames: a plain frame")
        // Many small frames (a table that grew a little at every backup) within the bytes: no more bases than a
        // reader takes.
        for n in 0...FrameTable.maxBases { bases.noteReplaced(in: Self.frame(n, raw: 4096)) }
        #expect(bases.take().isEmpty, "more than \(FrameTable.maxBases) bases: a plain frame")
        for n in 0..<FrameTable.maxBases { bases.noteReplaced(in: Self.frame(n, raw: 4096)) }
        #expect(bases.take().count == FrameTable.maxBases)
    }

    @Test func aFrameCompressedAgainstSeveralBasesDecodesWithThemInOrder() throws {
        let root = Fixtures.temporaryDirectory("delta-bases").path
        let texts: [[UInt8]] = (0..<3).map { f in
            Array((0..<20_000).map { "row \($0) of frame \(f): \(($0 &* 2654435761) % 1_000_003) words\n" }.joined().utf8)
        }
        let packs = try PackWriter(store: PieceStore(root: root), level: 3)
        var frames: [SegmentList.Frame] = []
        for text in texts {
            _ = text.withUnsafeBytes { packs.append($0) }
            frames.append(try packs.wait(for: try #require(try packs.flushFrame())))
        }
        try packs.finish()
        let compression = try DeltaCompression(level: 3, storage: LocalStorage(root: root))
        // Bases as a backup meets them: two, the next two starting with the last (moved, not read again), the
        // same again, one, another one; each frame is the bases' rows with a byte changed every 30,000.
        for (round, bases) in [[0, 1], [1, 2], [1, 2], [2], [0]].enumerated() {
            var rows = bases.flatMap { texts[$0] }
            for i in stride(from: 500, to: rows.count, by: 30_000) { rows[i] = UInt8(ascii: "#") }
            let input = ByteBuffer()
            input.append(rows)
            let made = try compression.compress(input, ticket: round, bases: bases.map { frames[$0] })
            #expect(made.bases == bases.map { frames[$0] }, "round \(round)")
            #expect(made.bytes.count * 16 <= rows.count, "round \(round): \(made.bytes.count) bytes for \(rows.count)")
            let prefix = bases.flatMap { texts[$0] }
            let back = try prefix.withUnsafeBytes { try ZstdFrame.decompress(made.bytes, rawBytes: rows.count, prefix: $0) }
            #expect(back == rows, "round \(round)")
            // After a delta frame, a frame with no bases decodes without any prefix (none was left on the context).
            let plain = try compression.compress(input, ticket: round, bases: [])
            let plainBack = try ZstdFrame.decompress(plain.bytes, rawBytes: rows.count)
            #expect(plain.bases.isEmpty && plainBack == rows)
        }
        // Against bases that have nothing in common with it, a frame stays plain.
        let unrelated = ByteBuffer()
        unrelated.append(Array((0..<20_000).map { "\(($0 &* 40503) % 65_521) unrelated \($0)\n" }.joined().utf8))
        #expect(try compression.compress(unrelated, ticket: 9, bases: [frames[0]]).bases.isEmpty)
    }

    /// A source, a repository, and backups after each change (each checked: it restores to the source's dump).
    struct Run {
        let source: String
        let repo: Repository
        let dir: URL
        var ids: [String] = []
        var documents: [SegmentsDocument] = []
        var dumps: [String] = []

        init(_ name: String, posts: Int) throws {
            source = try IncrementalBackupTests.source(posts: posts, name: name)
            dir = Fixtures.temporaryDirectory(name)
            repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        }

        mutating func backup(after change: String? = nil) throws {
            if let change { try Database(path: source, mode: .readWrite).execute(change) }
            let result = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
            ids.append(result.id)
            documents.append(try IncrementalBackupTests.document(result))
            dumps.append(try NewDatabaseRestoreTests().dump(source))
        }

        func restored(_ i: Int) throws -> String {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("restored-\(ids[i]).sqlite"))  // restored again after a prune
            return try IncrementalBackupTests.restoreDump(repo, ids[i], dir)
        }

        func verify(_ i: Int) throws -> Verifier.Report {
            try Verifier.verify(.catalogued(try #require(try repo.catalog.entries().first { $0.id == ids[i] }), repository: repo))
        }
    }

    @Test(.enabled(if: IncrementalBackupTests.sqlite3 != nil, "sqlite3 is not installed: the .dump comparison is skipped"))
    func aRunOfRowsChangedALittleIsStoredAsADeltaAndEverySnapshotStaysWhole() throws {
        var run = try Run("delta-runs", posts: 3_000)
        try run.backup()
        // A contiguous 2% of posts, then another run, then the first run again (its old versions are now in a
        // delta frame: the new one is compressed against that frame's base).
        let runs = ["rowid BETWEEN 1001 AND 1060", "rowid BETWEEN 2001 AND 2060", "rowid BETWEEN 1001 AND 1060"]
        for r in runs { try run.backup(after: "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE \(r)") }
        for i in 1...3 {
            let posts = try #require(run.documents[i].table("_velo_posts"))
            #expect(posts.deltaFrames && run.documents[i].version == 3, "snapshot \(i)")
            #expect(
                run.documents[i].storedBytes * 8 < posts.newRawBytes,
                "snapshot \(i) stored \(run.documents[i].storedBytes) bytes for \(posts.newRawBytes) bytes of new segments")
            #expect(try run.restored(i) == run.dumps[i], "snapshot \(i) restores exactly")
            #expect(try run.verify(i).ok)
        }
        // Compressed on their own, the same new segments take far more.
        #expect(run.documents[0].table("_velo_posts")!.deltaFrames == false && run.documents[0].version == 1)

        // The first snapshot goes: its packs hold the bases, which stay while the others need them.
        try run.repo.remove(try #require(try run.repo.catalog.entries().first { $0.id == run.ids[0] }))
        #expect(PieceSweep.run(run.repo).complete)
        for i in 1...3 {
            #expect(try run.restored(i) == run.dumps[i], "snapshot \(i) after the first is pruned")
            #expect(try run.verify(i).ok)
        }
    }

    @Test func aDamagedBaseIsNamedForEverySnapshotWhoseDeltaNeedsIt() throws {
        // Every post changes twice: the second and third snapshots hold no segment of the first one's posts
        // frame, and read it only as the base of their delta frames (the third's through the second's).
        var run = try Run("delta-damaged", posts: 200)
        try run.backup()
        try run.backup(after: "UPDATE _velo_posts SET views = coalesce(views, 0) + 1")
        try run.backup(after: "UPDATE _velo_posts SET views = coalesce(views, 0) + 1")
        let store = PieceStore(root: run.repo.root)
        let first = try store.readList(try #require(run.documents[0].table("_velo_posts")).list)
        let base = try #require(first.frames.first)
        for i in 1...2 {
            var list = try store.readList(try #require(run.documents[i].table("_velo_posts")).list)
            var used = Set<Int>()
            while let segment = try list.next() { used.insert(segment.frame) }
            #expect(
                used.allSatisfy { list.frames[$0].bases == [base] },
                "snapshot \(i): every posts segment is in a delta frame on the first frame")
        }
        let file = store.path(SegmentFormat.packPath(base.pack))
        var bytes = try FileSystem.read(file)
        bytes[Int(base.offset) + base.length / 2] ^= 0x20
        try FileSystem.writeAtomically(bytes, to: file)
        for i in 0..<3 {
            let report = try run.verify(i)
            #expect(!report.ok, "snapshot \(i) needs the damaged frame")
            #expect(report.problems.contains { $0.contains(SegmentFormat.packPath(base.pack)) }, "\(report.problems)")
            if i > 0 { #expect(report.problems.contains { $0.contains("a base of the delta frame") }, "\(report.problems)") }
        }
    }

    /// velo before delta frames refuses a version 3 document by its version (docs/FORMAT.md quotes its message);
    /// this reader takes versions 3 and 4 (uploaded files), refuses a later one the same way, and `delta_frames`
    /// only from version 3.
    @Test func theDocumentsVersionGuardsDeltaFrames() throws {
        func document(_ version: Int, deltaFrames: Bool) -> JSONValue {
            let table: [(String, JSONValue)] =
                [
                    ("name", .string("t")), ("list", .string(String(repeating: "a", count: 64))), ("segments", .int(0)),
                    ("parts", .array([])),
                ] + (deltaFrames ? [("delta_frames", .bool(true))] : [])
            return .object([("format", .string("velo-segments")), ("version", .int(version)), ("tables", .array([.object(table)]))])
        }
        #expect(try SegmentsDocument(json: document(3, deltaFrames: true)).version == 3)
        #expect(throws: FormatProblem.self) { _ = try SegmentsDocument(json: document(2, deltaFrames: true)) }
        #expect(try SegmentsDocument(json: document(4, deltaFrames: true)).version == 3, "a document without files is written as version 3")
        #expect(throws: FormatProblem.self) { _ = try SegmentsDocument(json: document(5, deltaFrames: false)) }
    }
}
