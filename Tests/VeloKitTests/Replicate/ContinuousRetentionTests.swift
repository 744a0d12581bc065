import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// New bases made while capture goes on (`baseEvery`) start chains without a gap, and retention
/// (`keep_within_continuous`) removes whole chains older than its span, oldest first, so that a prune killed
/// midway leaves only chains that start later.
@Suite struct ContinuousRetentionTests {
    /// A source written in rounds, each read and stored, with a new base every `baseEvery`; the moment after
    /// each round's read, and the database's dump then.
    static func capture(
        rounds: Int, baseEvery: Duration, name: String = #function
    ) throws
        -> (repository: Repository, path: String, moments: [(time: Int64, dump: String)], dir: URL)
    {
        let dir = Fixtures.temporaryDirectory(name)
        let repository = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let path = dir.appendingPathComponent("tenant.sqlite").path
        let db = try Database(path: path, mode: .create)
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body BLOB)")
        var options = Replicator.Options()
        options.baseEvery = baseEvery
        let replicator = try Replicator(sources: [path], repository: repository, options: options)
        try replicator.poll()
        try replicator.storeBatch()
        var moments: [(time: Int64, dump: String)] = []
        for round in 0..<rounds {
            for i in 0..<15 { try db.execute("INSERT INTO posts (title, body) VALUES (?, randomblob(2000))", [.text("\(round)/\(i)")]) }
            try db.execute("DELETE FROM posts WHERE id % 7 = \(round % 7)")
            Thread.sleep(forTimeInterval: 0.12)
            try replicator.poll()
            moments.append((OracleTime.now, try Fixtures.dump(path)))
            // Read again, with nothing committed meanwhile: capture now knows the moment above (a new base made
            // in the first read takes a few milliseconds, and what was committed during it is unknown until read).
            Thread.sleep(forTimeInterval: 0.005)
            try replicator.poll()
            try replicator.storeBatch()
        }
        return (repository, path, moments, dir)
    }

    @Test func newBasesStartChainsWithoutAGapAndEveryMomentStillRestores() throws {
        let (repository, path, moments, dir) = try Self.capture(rounds: 8, baseEvery: .milliseconds(250))
        let history = try #require(try ContinuousHistory.load(source: path, storage: repository.storage))
        #expect(history.chains.count >= 3 && history.gaps.isEmpty, "\(history.windows)")
        #expect(history.chains.dropFirst().allSatisfy { ($0.base.frames ?? 0) > 0 }, "made bases stand at a frame")
        for (earlier, later) in zip(history.windows, history.windows.dropFirst()) {
            #expect(later.lowerBound <= earlier.upperBound, "chains follow each other without a gap: \(history.windows)")
        }
        for (n, moment) in moments.enumerated() {
            let target = dir.appendingPathComponent("restored-\(n).sqlite").path
            let result = try PointInTimeRestore.run(source: path, at: moment.time, into: target, repository: repository)
            #expect(try Fixtures.dump(target) == moment.dump, "round \(n)")
            #expect(result.objectsRead <= 4, "a restore reads one chain: its base and its few batches")
        }
    }

    @Test func commitsReadAfterANewBaseInTheSameIntervalBelongToItsChain() throws {
        let dir = Fixtures.temporaryDirectory()
        let repository = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let path = dir.appendingPathComponent("tenant.sqlite").path
        let db = try Database(path: path, mode: .create)
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE posts (id INTEGER PRIMARY KEY, body BLOB)")
        var options = Replicator.Options()
        options.baseEvery = .milliseconds(200)
        let replicator = try Replicator(sources: [path], repository: repository, options: options)
        try replicator.poll()
        try replicator.storeBatch()
        var moments: [(time: Int64, dump: String)] = []
        for _ in 0..<3 {
            for _ in 0..<10 { try db.execute("INSERT INTO posts (body) VALUES (randomblob(2000))") }
            Thread.sleep(forTimeInterval: 0.25)
            try replicator.poll()  // reads them, then makes a new base
            for _ in 0..<10 { try db.execute("INSERT INTO posts (body) VALUES (randomblob(2000))") }
            try replicator.poll()  // reads these into the new chain, in the same interval
            moments.append((OracleTime.now, try Fixtures.dump(path)))
            Thread.sleep(forTimeInterval: 0.005)
            try replicator.poll()
            try replicator.storeBatch()
        }
        for (n, moment) in moments.enumerated() {
            let target = dir.appendingPathComponent("restored-\(n).sqlite").path
            _ = try PointInTimeRestore.run(source: path, at: moment.time, into: target, repository: repository)
            #expect(try Fixtures.dump(target) == moment.dump, "round \(n)")
        }
    }

    @Test func keepWithinContinuousRemovesWholeChainsOlderThanItsSpan() throws {
        let (repository, path, moments, dir) = try Self.capture(rounds: 8, baseEvery: .milliseconds(250))
        let before = try #require(try ContinuousHistory.load(source: path, storage: repository.storage))
        #expect(before.chains.count >= 3)
        // A span that starts just inside the third chain: the first two go, the third is kept whole.
        let third = before.chains[2]
        let keep = try #require(RetentionDuration(parsing: "1h"))
        let now = third.start + 1 + 3_600_000
        var names: [StoredName] = []
        try repository.storage.list(.capture) { name, _ in names.append(name) }

        let dry = try ContinuousPrune.run(storage: repository.storage, keep: keep, timeZone: .gmt, now: now, dryRun: true)
        #expect(dry.batchesRemoved > 0 && dry.basesRemoved == 2)
        var after: [StoredName] = []
        try repository.storage.list(.capture) { name, _ in after.append(name) }
        #expect(after.count == names.count, "a dry run removes nothing")

        let report = try ContinuousPrune.run(storage: repository.storage, keep: keep, timeZone: .gmt, now: now, dryRun: false)
        #expect(report.batchesRemoved == dry.batchesRemoved && report.bytesFreed == dry.bytesFreed)
        let history = try #require(try ContinuousHistory.load(source: path, storage: repository.storage))
        #expect(history.chains.count == before.chains.count - 2)
        #expect(history.windows.first?.lowerBound == third.start)
        #expect(report.windowStarts[path] == .some(PointInTimeError.format(third.start)))
        // Moments of the removed chains are now before capture starts; the kept ones still restore.
        let old = moments.first { $0.time < before.chains[1].end }!
        #expect(throws: PointInTimeError.self) {
            try PointInTimeRestore.run(
                source: path, at: old.time, into: dir.appendingPathComponent("old.sqlite").path, repository: repository)
        }
        let last = moments.last!
        _ = try PointInTimeRestore.run(
            source: path, at: last.time, into: dir.appendingPathComponent("last.sqlite").path, repository: repository)
        #expect(try Fixtures.dump(dir.appendingPathComponent("last.sqlite").path) == last.dump)
    }

    @Test func aPruneKilledAfterItsFirstRemovalLeavesChainsThatStartLater() throws {
        let (repository, path, moments, dir) = try Self.capture(rounds: 6, baseEvery: .milliseconds(250))
        var batches: [StoredName] = []
        try repository.storage.list(.capture) { name, _ in if name.name.hasSuffix(".batch") { batches.append(name) } }
        // The first removal a prune makes: the oldest batch, which holds the first chain's base.
        try repository.storage.remove(batches.sorted { $0.name < $1.name }[0])
        let history = try #require(try ContinuousHistory.load(source: path, storage: repository.storage))
        #expect(!history.chains.isEmpty && history.gaps.isEmpty)
        let last = moments.last!
        let target = dir.appendingPathComponent("last.sqlite").path
        _ = try PointInTimeRestore.run(source: path, at: last.time, into: target, repository: repository)
        #expect(try Fixtures.dump(target) == last.dump)
    }
}
