import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The sweep marker and what a killed writer leaves, after the review's findings: a successful backup never
/// clears a marker a sweep could not finish, leftovers go even when no piece was ever committed, and a snapshot
/// whose manifest no reader would take is refused before it is catalogued.
@Suite struct SweepMarkerTests {
    func repository(_ name: String = #function) throws -> (Repository, String) {
        let dir = Fixtures.temporaryDirectory(name)
        return (try Repository.open(dir.appendingPathComponent("repo").path, create: true), try Fixtures.demo(posts: 20, name: name))
    }

    @Test func aBackupKeepsTheMarkerOfASweepThatCouldNotFinish() throws {
        let (repo, db) = try repository()
        _ = try Backup.run(databasePath: db, repository: repo, options: .init())
        // An archive whose pieces cannot be read: sweeps cannot finish while it is there.
        let unreadable = repo.path("snapshots/2026/12/20261206T000000Z-00000000000000aa.tar.zst")
        try FileManager.default.createDirectory(
            atPath: (unreadable as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("not an archive".utf8).write(to: URL(fileURLWithPath: unreadable))
        try PieceSweep.markNeeded(repo)
        _ = try Backup.run(databasePath: db, repository: repo, options: .init())
        #expect(try repo.storage.stat(.sweepMarker) != nil, "the marker stays for the sweep still owed")
        try FileManager.default.removeItem(atPath: unreadable)
        _ = try Backup.run(databasePath: db, repository: repo, options: .init())
        #expect(try repo.storage.stat(.sweepMarker) == nil, "once a sweep finishes it goes")
    }

    @Test func leftoversGoEvenWhenNoPieceWasEverCommitted() throws {
        let (repo, db) = try repository()
        let folder = repo.path("data/packs/ab")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // A killed first backup: its pack's temporary (pid above Linux's pid_max) and the marker, nothing else.
        let temporary = folder + "/." + String(repeating: "ab", count: 32) + ".pack.1.tmp-4194305"
        try Data(repeating: 7, count: 1000).write(to: URL(fileURLWithPath: temporary))
        try PieceSweep.markNeeded(repo)
        _ = try Backup.run(databasePath: db, repository: repo, options: .init())
        #expect(!FileManager.default.fileExists(atPath: temporary))
    }

    @Test func aManifestPastTheReadersLimitIsRefusedBeforeTheCatalog() throws {
        let dir = Fixtures.temporaryDirectory()
        let writer = try ArchiveWriter(path: dir.appendingPathComponent("a.tar.zst").path, level: 1, workers: 0)
        defer { writer.abort() }
        let huge = JSONValue.array((0..<200_000).map { .string("files/uploads/collections/posts/\($0)-a-long-enough-file-name.png") })
        #expect {
            try writer.addJSONEntry(path: ArchiveFormat.manifestPath, huge, modificationTime: 0, source: "/srv/t.sqlite")
        } throws: { error in
            "\(error)".hasPrefix("/srv/t.sqlite: the snapshot's manifest.json would be") && "\(error)".contains("nothing was catalogued")
        }
    }
}
