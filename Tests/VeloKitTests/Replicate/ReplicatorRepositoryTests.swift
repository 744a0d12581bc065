import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Continuous capture into every kind of repository the engine has: a bucket (SeaweedFS on loopback), encrypted,
/// read back by another process's storage; restores to each moment equal the database as it was then.
@Suite struct ReplicatorRepositoryTests {
    @Test func anEncryptedBucketHoldsTheCaptureAndRestoresEachMoment() throws {
        guard let server = try S3StorageTests.server() else { return }
        let location = server.location("replicate")
        let access = EncryptedRepositoryTests.access("replicate password")
        let repository = try Repository.open(
            storage: try S3Storage(location, environment: SeaweedFS.environment), create: true, named: location, access: access)
        let dir = Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("tenant.sqlite").path
        let db = try Database(path: path, mode: .create)
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body BLOB)")
        let replicator = try Replicator(sources: [path], repository: repository)
        try replicator.poll()
        #expect(try replicator.storeBatch()?.bases == 1)

        // Each round commits, is read, and is stored; the moment right after the read is the round's state.
        var moments: [(time: Int64, dump: String)] = []
        for round in 0..<4 {
            for i in 0..<(20 * (round + 1)) {
                try db.execute("INSERT INTO posts (title, body) VALUES (?, randomblob(3000))", [.text("round \(round) post \(i)")])
            }
            if round == 2 { try db.execute("DELETE FROM posts WHERE id % 3 = 0; ALTER TABLE posts ADD COLUMN views INTEGER") }
            try replicator.poll()
            moments.append((OracleTime.now, try Fixtures.dump(path)))
            // Read again, with nothing committed meanwhile: the window now reaches past the moment above (the
            // clock may have passed a millisecond since the first read, and the last round has no later one).
            Thread.sleep(forTimeInterval: 0.01)
            try replicator.poll()
            #expect(try replicator.storeBatch()?.commits ?? 0 > 0)
        }

        // Another process: its own storage of the bucket, the password again.
        let elsewhere = S3RepositoryTests.environmentOfAnotherMachine()
        let reader = try Repository.open(storage: try S3Storage(location, environment: elsewhere), named: location, access: access)
        for (n, moment) in moments.enumerated() {
            let target = dir.appendingPathComponent("restored-\(n).sqlite").path
            let result = try PointInTimeRestore.run(source: path, at: moment.time, into: target, repository: reader)
            #expect(result.objectsRead >= 2)
            #expect(try Fixtures.dump(target) == moment.dump, "the moment after round \(n)")
        }
        // Each header was read once, and kept on this machine sealed as the objects are: the next process reading
        // the history lists the bucket and reads no header; a copy damaged here is read from the bucket again.
        let kept = try #require(reader.storage.cacheDirectory) + "/capture-headers"
        let copies = try FileManager.default.contentsOfDirectory(atPath: kept).sorted()
        #expect(copies.count == 5 && copies.allSatisfy { $0.hasSuffix(".batch") }, "\(copies)")
        for copy in copies {
            #expect(FileManager.default.contents(atPath: "\(kept)/\(copy)")?.starts(with: Array("VELOSEA1".utf8)) == true)
        }
        func nextProcess() throws -> Repository {
            try Repository.open(storage: try S3Storage(location, environment: elsewhere), named: location, access: access)
        }
        let next = try nextProcess()
        let before = try #require(next.storage.requests)
        let history = try #require(try ContinuousHistory.load(source: path, storage: next.storage))
        let listed = try #require(next.storage.requests) - before
        #expect(listed.get == 0 && listed.list == 1, "\(listed)")
        #expect(history.batches == 5 && history.gaps.isEmpty)
        FileManager.default.createFile(atPath: "\(kept)/\(copies[2])", contents: Data("damaged here".utf8))
        let third = try nextProcess()
        let again = try #require(third.storage.requests)
        let reread = try #require(try ContinuousHistory.load(source: path, storage: third.storage))
        let fetched = try #require(third.storage.requests) - again
        #expect(fetched.get == 1 && fetched.list == 1, "\(fetched)")
        #expect(reread.windows == history.windows)
        #expect(FileManager.default.contents(atPath: "\(kept)/\(copies[2])")?.starts(with: Array("VELOSEA1".utf8)) == true)

        // What the bucket holds is sealed: no batch reads as zstd.
        let raw = try S3Storage(location, environment: SeaweedFS.environment)
        var names: [StoredName] = []
        try raw.list(.capture) { name, _ in names.append(name) }
        #expect(names.count == 6, "a base and five batches")
        for name in names { #expect(Array(try raw.load(name).prefix(4)) != [0x28, 0xB5, 0x2F, 0xFD], "\(name) is not sealed") }
    }
}

extension ReplicatorRepositoryTests {
    @Test func aBatchTheRepositoryRefusesIsStoredWithTheNextOneAndNothingIsLost() throws {
        let dir = Fixtures.temporaryDirectory()
        let root = dir.appendingPathComponent("repo").path
        let repository = try Repository.open(root, create: true)
        let path = dir.appendingPathComponent("tenant.sqlite").path
        let db = try Database(path: path, mode: .create)
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE posts (id INTEGER PRIMARY KEY, body BLOB)")
        let replicator = try Replicator(sources: [path], repository: repository)
        try replicator.poll()
        try replicator.storeBatch()
        for _ in 0..<30 { try db.execute("INSERT INTO posts (body) VALUES (randomblob(3000))") }
        try replicator.poll()
        // The repository's folder for captures becomes a file: the batch cannot be written.
        let folder = root + "/continuous"
        try FileManager.default.moveItem(atPath: folder, toPath: folder + ".aside")
        FileManager.default.createFile(atPath: folder, contents: Data("in the way".utf8))
        #expect(throws: (any Error).self) { try replicator.storeBatch() }
        for _ in 0..<30 { try db.execute("INSERT INTO posts (body) VALUES (randomblob(3000))") }
        try replicator.poll()
        try FileManager.default.removeItem(atPath: folder)
        try FileManager.default.moveItem(atPath: folder + ".aside", toPath: folder)
        let moment = OracleTime.now
        let dump = try Fixtures.dump(path)
        Thread.sleep(forTimeInterval: 0.01)
        try replicator.poll()
        #expect(try replicator.storeBatch()?.commits == 60, "the refused batch's commits and the next ones, together")
        let history = try #require(try ContinuousHistory.load(source: path, storage: repository.storage))
        #expect(history.chains.count == 1 && history.gaps.isEmpty)
        let target = dir.appendingPathComponent("restored.sqlite").path
        _ = try PointInTimeRestore.run(source: path, at: moment, into: target, repository: repository)
        #expect(try Fixtures.dump(target) == dump)
    }
}

/// Milliseconds since the epoch, as capture stamps commits.
enum OracleTime {
    static var now: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}
