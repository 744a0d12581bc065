import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Compaction of continuous capture (`ContinuousCompaction`): packs keep every moment restorable exactly, a
/// restore reads a handful of objects, merged batches go only after a while, a second run finds nothing to do,
/// retention removes packs with their chains, and a damaged pack is named.
@Suite struct ContinuousCompactionTests {
    /// Spans short enough for a test: level 1 a second, level 2 two; merged batches kept a minute.
    static let levels = {
        var levels = ContinuousCompaction.Levels(span1: .seconds(1), span2: .seconds(2))
        levels.keepBatches = .seconds(60)
        return levels
    }()

    /// A source written in `rounds` rounds a quarter of a second apart (inserts, updates, deletes, a column
    /// added, a VACUUM), each read and stored; the moment after each round's read, and the dump then.
    static func capture(rounds: Int, baseEvery: Duration = .seconds(86_400), name: String = #function) throws -> Captured {
        let dir = Fixtures.temporaryDirectory(name)
        let repository = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let path = dir.appendingPathComponent("tenant.sqlite").path
        let db = try Database(path: path, mode: .create)
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body BLOB)")
        var options = Replicator.Options()
        options.baseEvery = baseEvery
        options.compaction = nil
        let replicator = try Replicator(sources: [path], repository: repository, options: options)
        try replicator.poll()
        try replicator.storeBatch()
        var moments: [(time: Int64, dump: String)] = []
        for round in 0..<rounds {
            for i in 0..<12 { try db.execute("INSERT INTO posts (title, body) VALUES (?, randomblob(1500))", [.text("\(round)/\(i)")]) }
            try db.execute("UPDATE posts SET title = title || '+' WHERE id % 5 = \(round % 5)")
            try db.execute("DELETE FROM posts WHERE id % 9 = \(round % 9)")
            if round == 4 { try db.execute("ALTER TABLE posts ADD COLUMN views INTEGER DEFAULT 0") }
            if round == 7 { try db.execute("VACUUM") }
            try replicator.poll()
            moments.append((OracleTime.now, try Fixtures.dump(path)))
            Thread.sleep(forTimeInterval: 0.005)
            try replicator.poll()
            try replicator.storeBatch()
            Thread.sleep(forTimeInterval: 0.25)
        }
        return Captured(repository: repository, path: path, moments: moments, dir: dir)
    }

    struct Captured {
        var repository: Repository
        var path: String
        var moments: [(time: Int64, dump: String)]
        var dir: URL

        func names(_ suffix: String) throws -> [StoredName] {
            var names: [StoredName] = []
            try repository.storage.list(.capture) { name, _ in if name.name.hasSuffix(suffix) { names.append(name) } }
            return names.sorted { $0.name < $1.name }
        }

        /// Restores every moment; each must equal its dump. Returns the most objects a restore read.
        func restoreEachMoment(_ label: String) throws -> Int {
            var most = 0
            for (n, moment) in moments.enumerated() {
                let target = dir.appendingPathComponent("\(label)-\(n).sqlite").path
                let result = try PointInTimeRestore.run(source: path, at: moment.time, into: target, repository: repository)
                #expect(try Fixtures.dump(target) == moment.dump, "\(label): round \(n)")
                most = max(most, result.objectsRead)
            }
            return most
        }
    }

    @Test func packsKeepEveryMomentExactAndARestoreReadsAHandfulOfObjects() throws {
        let captured = try Self.capture(rounds: 16)
        let batches = try captured.names(".batch")
        let before = try captured.restoreEachMoment("batches")
        #expect(before > 8, "without packs a restore reads a batch per round")

        let scratch = captured.dir.appendingPathComponent("scratch").path
        try FileSystem.createDirectory(scratch)
        let compaction = ContinuousCompaction(storage: captured.repository.storage, levels: Self.levels, scratch: scratch)
        // Every span is complete, none merged long enough ago for its batches to go.
        let last = try #require(CaptureBatch.writtenTime(of: batches.last!))
        let report = try compaction.run(now: last + 2_500)
        #expect(report.level1Packs >= 4 && report.level2Packs >= 1, "\(report)")
        #expect(report.batchesMerged == batches.count && report.batchesRemoved == 0)
        #expect(try captured.names(".batch").count == batches.count, "merged batches stay a while")
        let inventory = try ContinuousHistory.inventory(storage: captured.repository.storage)
        #expect(inventory.loose.isEmpty, "every batch is held by a pack")
        let history = try #require(inventory.histories[captured.path])
        #expect(history.chains.count == 1 && history.gaps.isEmpty)
        #expect(history.chains[0].images.contains { $0.level == 1 && $0.image.anchor != nil }, "level-1 images anchor at level 2")
        #expect(try captured.restoreEachMoment("packs") <= 4)

        // Once kept long enough, the merged batches go; the packs alone restore every moment.
        let later = try compaction.run(now: last + 3_600_000)
        #expect(later.batchesRemoved == batches.count && later.level1Packs == 0)
        #expect(try captured.names(".batch").isEmpty)
        #expect(try captured.restoreEachMoment("alone") <= 4)
        #expect(try compaction.run(now: last + 3_600_000) == ContinuousCompaction.Report(), "a second run finds nothing to do")

        // A fresh process (no cached headers) reads the same history.
        let fresh = ContinuousCompaction(storage: captured.repository.storage, levels: Self.levels, scratch: scratch)
        #expect(try fresh.run(now: last + 3_600_000) == ContinuousCompaction.Report())
    }

    @Test func imagesEveryFewSpansStillRestoreEveryMomentExactly() throws {
        let captured = try Self.capture(rounds: 16)
        let scratch = captured.dir.appendingPathComponent("scratch").path
        try FileSystem.createDirectory(scratch)
        // Twelve level-1 spans a level-2 span: an image every second span.
        let levels = ContinuousCompaction.Levels(span1: .seconds(1), span2: .seconds(12))
        #expect(levels.spansPerImage == 2)
        let last = try #require(CaptureBatch.writtenTime(of: try captured.names(".batch").last!))
        _ = try ContinuousCompaction(storage: captured.repository.storage, levels: levels, scratch: scratch).run(now: last + 3_600_000)
        let inventory = try ContinuousHistory.inventory(storage: captured.repository.storage)
        let level1 = inventory.packs.filter { $0.pack.level == 1 }
        #expect(level1.contains { $0.pack.sources.allSatisfy { $0.image == nil } }, "some packs hold frames only")
        #expect(level1.contains { $0.pack.sources.contains { $0.image != nil } }, "some hold images")
        #expect(try captured.restoreEachMoment("sparse") <= 5, "base, level 2, the image's pack and two packs of frames")
    }

    @Test func batchesStoredAfterTheLastPackStayRestorableBesideThePacks() throws {
        let captured = try Self.capture(rounds: 10)
        let scratch = captured.dir.appendingPathComponent("scratch").path
        try FileSystem.createDirectory(scratch)
        let batches = try captured.names(".batch")
        // Only the spans over by the sixth batch are merged: the batches after it stay loose.
        let cut = try #require(CaptureBatch.writtenTime(of: batches[6]))
        let compaction = ContinuousCompaction(storage: captured.repository.storage, levels: Self.levels, scratch: scratch)
        let report = try compaction.run(now: cut + 1_000)
        #expect(report.level1Packs >= 1)
        let inventory = try ContinuousHistory.inventory(storage: captured.repository.storage)
        #expect(!inventory.loose.isEmpty && inventory.loose.count < batches.count, "some batches merged, some not yet")
        _ = try captured.restoreEachMoment("mixed")
    }

    @Test func pruneRemovesPacksWithTheirChains() throws {
        let captured = try Self.capture(rounds: 12, baseEvery: .milliseconds(900))
        let scratch = captured.dir.appendingPathComponent("scratch").path
        try FileSystem.createDirectory(scratch)
        let last = try #require(CaptureBatch.writtenTime(of: try captured.names(".batch").last!))
        _ = try ContinuousCompaction(storage: captured.repository.storage, levels: Self.levels, scratch: scratch).run(now: last + 3_600_000)
        #expect(try captured.names(".batch").isEmpty)
        let before = try #require(try ContinuousHistory.load(source: captured.path, storage: captured.repository.storage))
        #expect(before.chains.count >= 3 && before.gaps.isEmpty, "\(before.windows)")
        let packs = try captured.names(".pack")

        // A span that starts inside the third chain: the first goes, with the packs only it needs. (The second
        // goes too unless its base is in the pack that holds the third's: a pack holds a second of every chain.)
        let third = before.chains[2]
        let keep = try #require(RetentionDuration(parsing: "1h"))
        let report = try ContinuousPrune.run(
            storage: captured.repository.storage, keep: keep, timeZone: .gmt, now: third.start + 1 + 3_600_000, dryRun: false)
        #expect(report.packsRemoved > 0 && report.basesRemoved >= 1 && report.packsKept + report.packsRemoved == packs.count)
        let after = try #require(try ContinuousHistory.load(source: captured.path, storage: captured.repository.storage))
        #expect(after.chains.count == before.chains.count - report.basesRemoved && after.gaps.isEmpty)
        #expect(after.chains.first?.start == before.chains[report.basesRemoved].start)
        #expect(after.windows.first.map { $0.lowerBound <= third.start } == true)
        for (n, moment) in captured.moments.enumerated() where moment.time >= third.start {
            let target = captured.dir.appendingPathComponent("kept-\(n).sqlite").path
            _ = try PointInTimeRestore.run(source: captured.path, at: moment.time, into: target, repository: captured.repository)
            #expect(try Fixtures.dump(target) == moment.dump, "round \(n)")
        }
    }

    @Test func aPackWhoseHeaderClaimsGigabytesIsRefusedBeforeAnyIsRead() throws {
        let dir = Fixtures.temporaryDirectory()
        let storage = LocalStorage(root: dir.appendingPathComponent("repo").path)
        var header: [UInt8] = []
        let compressor = try ZstdCompressor(level: 3, workers: 0) { header.append(contentsOf: $0) }
        try (CapturePack.magic + [0xFF, 0xFF, 0xFF, 0xF0]).withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        var bytes: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 8, 0, 0, 0]
        for i in 0..<8 { bytes.append(UInt8(UInt64(header.count) >> (8 * UInt64(i)) & 0xFF)) }
        let name = CapturePack.name(level: 1, start: 1_000)
        try storage.save(name, bytes + header)
        let error = #expect(throws: VeloError.self) { try CaptureObjects.packHeader(name, storage: storage) }
        #expect(error?.kind == .damaged && error?.message.contains("more than any pack holds") == true, "\(String(describing: error))")
    }

    @Test func aDamagedPackIsNamed() throws {
        let captured = try Self.capture(rounds: 6)
        let scratch = captured.dir.appendingPathComponent("scratch").path
        try FileSystem.createDirectory(scratch)
        let last = try #require(CaptureBatch.writtenTime(of: try captured.names(".batch").last!))
        _ = try ContinuousCompaction(storage: captured.repository.storage, levels: Self.levels, scratch: scratch).run(now: last + 3_600_000)
        let pack = try #require(try captured.names(".pack").first)
        let path = captured.repository.root + "/" + pack.relativePath
        var bytes = try FileSystem.read(path)
        bytes[20] ^= 0xFF  // inside the header's frame
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ContinuousHistory.load(source: captured.path, storage: captured.repository.storage)
            Issue.record("a damaged pack was read")
        } catch {
            #expect(error.veloKind == .damaged)
            #expect("\(error)".contains(pack.name), "\(error)")
        }
    }
}
