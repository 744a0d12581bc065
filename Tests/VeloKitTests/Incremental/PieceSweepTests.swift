import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Prune of incremental snapshots: whichever snapshots go, the others still read back whole, and exactly the
/// pieces no remaining snapshot uses are freed.
@Suite struct PieceSweepTests {
    /// Six snapshots of a source that changes a little between them.
    static func sixSnapshots(_ name: String) throws -> (repo: Repository, ids: [String]) {
        let source = try IncrementalBackupTests.source(posts: 150, name: name)
        let repo = try Repository.open(Fixtures.temporaryDirectory(name).appendingPathComponent("repo").path, create: true)
        var ids: [String] = []
        let changes = [
            "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 10 = 0",
            "INSERT INTO kv VALUES ('d', 'four')",
            "DELETE FROM _velo_comments WHERE rowid BETWEEN 40 AND 60",
            "UPDATE _velo_users SET name = name || '!' WHERE rowid = 3",
            "ALTER TABLE _velo_tags ADD COLUMN shade TEXT DEFAULT 'dark'",
        ]
        for i in 0..<6 {
            if i > 0 { try Database(path: source, mode: .readWrite).execute(changes[i - 1]) }
            ids.append(try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options()).id)
        }
        return (repo, ids)
    }

    /// A digest of every row of a snapshot, read (and checked against the catalog) through its repository.
    static func rowsDigest(_ repo: Repository, _ id: String) throws -> String {
        let entry = try #require(try repo.catalog.entries().first { $0.id == id })
        let reader = try SnapshotReader(.catalogued(entry, repository: repo))
        var digest = SHA256Digest()
        try reader.scan { table, line in
            digest.update(Array(table.name.utf8))
            digest.update(line)
            return true
        }
        return digest.hex()
    }

    static func files(_ root: String) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for case let relative as String in FileManager.default.enumerator(atPath: root)?.allObjects ?? [] {
            let path = (root as NSString).appendingPathComponent(relative)
            if !FileSystem.isDirectory(path) { out[relative] = (try? FileSystem.fileSize(path)) ?? 0 }
        }
        return out
    }

    @Test func removingAnySubsetOfSixSnapshotsLeavesTheOthersWholeAndFreesWhatOnlyTheyUsed() throws {
        let (repo, ids) = try Self.sixSnapshots("subsets")
        let digests = try ids.map { try Self.rowsDigest(repo, $0) }
        #expect(Set(digests).count == 6)
        let bases = try repo.catalog.entries().compactMap { try SegmentedSnapshot.read(repo.path($0.archive)).segments }.flatMap(\.tables)
            .compactMap(\.base)
        #expect(!bases.isEmpty, "some lists are patches, so the subsets remove bases that others use")
        let base = URL(fileURLWithPath: repo.root).deletingLastPathComponent()
        for mask in 1..<64 {
            let copy = base.appendingPathComponent("subset-\(mask)").path
            try FileManager.default.copyItem(atPath: repo.root, toPath: copy)
            let clone = try Repository.open(copy)
            let before = Self.files(copy)
            let entries = try clone.catalog.entries()
            let removed = entries.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
            let dry = PieceSweep.run(clone, excluding: Set(removed.map(\.archive)), dryRun: true)
            // What `Repository.remove` does, less its fsyncs (64 clones): the catalog entry, then the archive.
            for entry in removed {
                clone.catalog.remove(entry.id)
                unlink(clone.path(entry.archive))
            }
            let swept = PieceSweep.run(clone)

            #expect(
                swept.complete && swept.bytes == dry.bytes && Set(swept.files) == Set(dry.files),
                "mask \(mask): a dry run frees what the sweep frees")
            let after = Self.files(copy)
            let freed = before.filter { after[$0.key] == nil }.values.reduce(0, +)
            let archives = removed.reduce(Int64(0)) { $0 + $1.archiveBytes }
            let catalogFiles = before.filter { $0.key.hasPrefix("catalog/") && after[$0.key] == nil }.values.reduce(0, +)
            #expect(freed == archives + swept.bytes + catalogFiles, "mask \(mask): the bytes reported are the bytes gone")
            #expect(PieceSweep.run(clone, dryRun: true).files.isEmpty, "mask \(mask): nothing unreferenced is left")
            // Every piece each remaining snapshot uses is there and sound (its frames' SHA-256 checked); for a
            // spread of the subsets (a full read of every snapshot of all 63 costs too long in a debug build) the
            // rows themselves read back identical.
            let store = PieceStore(root: clone.root)
            for (i, id) in ids.enumerated() where mask & (1 << i) == 0 {
                let entry = try #require(try clone.catalog.entries().first { $0.id == id })
                for table in try #require(try SegmentedSnapshot.read(clone.path(entry.archive)).segments).tables {
                    let list = try store.readList(table.list)
                    for frame in list.frames { _ = try store.frame(frame) }
                }
                if mask.nonzeroBitCount <= 1 || mask.nonzeroBitCount >= 5 || mask == 0b010101 || mask == 0b101010 {
                    #expect(try Self.rowsDigest(clone, id) == digests[i], "mask \(mask): snapshot \(i) changed")
                }
            }
            if mask == 63 {
                #expect(after.keys.filter { $0.hasPrefix("data/") && ($0.hasSuffix(".pack") || $0.hasSuffix(".list")) }.isEmpty)
            }
            try FileManager.default.removeItem(atPath: copy)
        }
    }

    @Test func verifyingManySnapshotsReadsEachSharedPartOnce() throws {
        let (repo, _) = try Self.sixSnapshots("once")
        let entries = try repo.catalog.entries()
        let verified = VerifiedParts()
        var parts = 0
        var shared = 0
        var seen = Set<String>()
        for entry in entries {
            let report = try Verifier.verify(.catalogued(entry, repository: repo), verifiedParts: verified)
            #expect(report.ok, "\(report.problems)")
            let document = try #require(try SegmentedSnapshot.read(repo.path(entry.archive)).segments)
            for table in document.tables {
                var first = 0
                for part in table.parts {
                    parts += 1
                    if !seen.insert("\(table.list):\(first):\(part.segments):\(part.sha256)").inserted { shared += 1 }
                    first += part.segments
                }
            }
        }
        #expect(shared > parts / 2, "most parts are shared between the six snapshots")
        #expect(verified.reused == shared, "every shared part was read once: \(verified.reused) reused of \(shared) shared, \(parts) parts")
    }

    @Test func aFlippedByteInASharedPackNamesEverySnapshotThatUsesIt() throws {
        let (repo, ids) = try Self.sixSnapshots("flipped")
        // The first backup's packs hold most rows, which every later snapshot reuses.
        let first = try #require(try SegmentedSnapshot.read(repo.path(try repo.catalog.entries()[0].archive)).segments)
        let posts = try PieceStore(root: repo.root).readList(try #require(first.table("_velo_posts")).list)
        let pack = repo.path(SegmentFormat.packPath(posts.frames[0].pack))
        let handle = try #require(FileHandle(forUpdatingAtPath: pack))
        let offset = UInt64(posts.frames[0].offset) + UInt64(posts.frames[0].length / 2)
        try handle.seek(toOffset: offset)
        let byte = try #require(try handle.read(upToCount: 1)).first!
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data([byte ^ 0x20]))
        try handle.close()
        // One run over all of them (as `verify --all`), sharing what it verified: a damaged part is never taken as verified.
        let verified = VerifiedParts()
        for entry in try repo.catalog.entries() {
            let report = try Verifier.verify(.catalogued(entry, repository: repo), verifiedParts: verified)
            #expect(!report.ok, "\(entry.id) uses the damaged frame")
            #expect(report.problems.contains { $0.contains(SegmentFormat.packPath(posts.frames[0].pack)) }, "\(report.problems)")
        }
        // The verification is recorded: retention counts none of them as a sound snapshot.
        #expect(try repo.catalog.entries().allSatisfy { $0.verification?.ok == false })
        #expect(ids.count == 6)
    }
}
