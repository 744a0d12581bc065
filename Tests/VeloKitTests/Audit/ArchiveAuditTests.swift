import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct ArchiveAuditTests {
    /// A real archive of a small demo database, and its folder.
    func snapshot(_ name: String = #function) throws -> (archive: String, dir: URL, repo: Repository, result: Backup.Result) {
        let dir = Fixtures.temporaryDirectory(name)
        let db = try Fixtures.demo(posts: 60, name: name)
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let result = try Backup.run(databasePath: db, repository: repo, options: .fullArchive)
        return (result.archive, dir, repo, result)
    }

    func audit(_ path: String) throws -> [String] {
        try ArchiveAudit.run(path: path).problems.map(\.description)
    }

    /// Rebuilds the archive with `change` applied to its entries and returns the problems found.
    func problems(after change: (inout [CraftedArchive.Entry]) throws -> Void, _ name: String = #function) throws -> [String] {
        let s = try snapshot(name)
        var entries = try CraftedArchive.entries(of: s.archive)
        try change(&entries)
        let crafted = s.dir.appendingPathComponent("crafted.tar.zst").path
        try CraftedArchive(entries: entries).write(to: crafted)
        return try audit(crafted)
    }

    @Test func aFreshSnapshotIsSound() throws {
        let s = try snapshot()
        let audit = try ArchiveAudit.run(path: s.archive, expectedSHA256: s.result.sha256)
        #expect(audit.problems.isEmpty, "\(audit.problems)")
        #expect(audit.header?.id == s.result.id)
        #expect(audit.rowsChecked > 60)
        #expect(audit.archiveSHA256 == s.result.sha256)
    }

    @Test func flippedBytesAreFoundAndNamed() throws {
        let s = try snapshot()
        var data = try Data(contentsOf: URL(fileURLWithPath: s.archive))
        data[data.count / 2] ^= 0x5A
        try data.write(to: URL(fileURLWithPath: s.archive))
        let audit = try ArchiveAudit.run(path: s.archive, expectedSHA256: s.result.sha256)
        #expect(!audit.problems.isEmpty)
        #expect(audit.problems.contains { $0.reason.contains("SHA-256") || $0.reason.contains("zstd") || $0.reason.contains("checksum") })
    }

    @Test func aTruncatedArchiveIsIncomplete() throws {
        let s = try snapshot()
        let data = try Data(contentsOf: URL(fileURLWithPath: s.archive))
        try data.prefix(data.count * 2 / 3).write(to: URL(fileURLWithPath: s.archive))
        let problems = try audit(s.archive)
        #expect(problems.contains { $0.contains("truncated") || $0.contains("missing") }, "\(problems)")
    }

    @Test func aFileThatIsNotAnArchive() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("x.tar.zst").path
        try "definitely not zstd".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try audit(path).first?.contains("zstd") == true)
        try CraftedArchive.compress(Array("plain text, no tar".utf8), to: path)
        #expect(try audit(path).first?.contains("not a tar archive") == true)
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(try audit(path).first?.contains("empty") == true)
    }

    @Test func aMissingManifestMeansIncomplete() throws {
        let problems = try problems { $0.removeLast() }
        #expect(problems.contains("entry manifest.json: is missing (the archive is incomplete)"), "\(problems)")
    }

    @Test func aMalformedManifestIsNamed() throws {
        let problems = try problems { $0[$0.count - 1].bytes = Array("{\"format\": \"velo-snapshot\", ".utf8) }
        #expect(problems.contains { $0.hasPrefix("entry manifest.json: is not valid JSON") }, "\(problems)")
    }

    @Test func aFutureFormatVersionIsRefused() throws {
        let problems = try problems { entries in
            var text = String(decoding: entries[0].bytes, as: UTF8.self)
            text = text.replacingOccurrences(of: "\"version\": 1", with: "\"version\": 3")
            entries[0].bytes = Array(text.utf8)
        }
        #expect(problems.contains { $0.contains("format version 3 is newer than this velo reads") }, "\(problems)")
    }

    @Test func unsafeEntriesAreReportedNeverExtracted() throws {
        let problems = try problems { entries in
            entries.insert(.init(path: "../escape.txt", bytes: [1]), at: 2)
            entries.insert(.init(path: "/etc/cron.d/evil", bytes: [1]), at: 2)
            entries.insert(.init(path: "records/link", kind: .symlink("/etc/passwd")), at: 2)
            entries.insert(.init(path: "records/dev", kind: .characterDevice), at: 2)
        }
        #expect(problems.contains("entry ../escape.txt: has a '..' path component"), "\(problems)")
        #expect(problems.contains("entry /etc/cron.d/evil: has an absolute path"), "\(problems)")
        #expect(problems.contains("entry records/link: is a symlink, not a regular file"), "\(problems)")
        #expect(problems.contains("entry records/dev: is a device, not a regular file"), "\(problems)")
    }

    @Test func duplicateEntriesAreReported() throws {
        let problems = try problems { entries in entries.insert(entries[2], at: 3) }
        #expect(problems.contains { $0.hasSuffix("appears more than once") }, "\(problems)")
    }

    @Test func aManifestThatDisagreesWithTheDataIsReported() throws {
        let problems = try problems { entries in
            let index = entries.firstIndex { $0.path.hasPrefix("records/_velo_posts/") }!
            // Drop the last row of the posts part: size, checksum and row count all disagree.
            var lines = entries[index].bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
            lines.removeLast(2)
            entries[index].bytes = Array(lines.joined(separator: [0x0A])) + [0x0A]
        }
        #expect(problems.contains { $0.contains("records/_velo_posts/000001.ndjson") && $0.contains("SHA-256 mismatch") }, "\(problems)")
        #expect(problems.contains { $0.contains("rows, the manifest says") }, "\(problems)")
    }

    @Test func aBadRowIsNamedWithItsNumber() throws {
        let problems = try problems { entries in
            let index = entries.firstIndex { $0.path.hasPrefix("records/_velo_tags/") }!
            var text = String(decoding: entries[index].bytes, as: UTF8.self)
            text = text.replacingOccurrences(of: "\"swift\"", with: "swift")
            entries[index].bytes = Array(text.utf8)
        }
        #expect(problems.contains { $0.hasPrefix("entry records/_velo_tags/000001.ndjson: row 1: value 2") }, "\(problems)")
    }

    @Test func headerAndManifestMustBeFirstAndLast() throws {
        let swapped = try problems { entries in entries.swapAt(0, 1) }
        #expect(swapped.contains { $0.contains("must be the first entry") }, "\(swapped)")
        let more = try problems { entries in entries.append(CraftedArchive.Entry(path: "extra.txt", bytes: [1])) }
        #expect(more.contains { $0.contains("extra.txt: comes after manifest.json") }, "\(more)")
        #expect(more.contains { $0.contains("extra.txt: is not listed in the manifest") }, "\(more)")
    }
}
