import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

@Suite struct InfoCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixture = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/veloquent/tenant_test.sqlite").path
    static let fixtureAvailable = FileManager.default.fileExists(atPath: fixture)

    @Test func versionAndHelpWork() throws {
        let version = try VeloProcess.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == VeloVersion.current)
        let help = try VeloProcess.run(["help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("info") && help.stdout.contains("demo"))
    }

    @Test(.enabled(if: InfoCommandTests.fixtureAvailable, "../shared/fixtures/veloquent is absent: skipped"))
    func listsTheFixturesCollectionsAsJSON() throws {
        let result = try VeloProcess.run(["info", "--db", Self.fixture, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONParser.parse(result.stdout)
        let collections = try #require(json["collections"]?.arrayValue)
        var tables: [String: String] = [:]
        for c in collections { tables[c["name"]?.stringValue ?? ""] = c["table"]?.stringValue }
        #expect(tables == ["superusers": "superusers", "otps": "otp_tokens", "oauth": "oauth_accounts", "users": "_velo_users"])
        #expect(json["schema_version"] == .string("2026_04_28_133148_create_tenant_settings"))
    }

    @Test func demoThenInfoEndToEnd() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let demo = try VeloProcess.run(["demo", "--out", db, "--posts", "500", "--json"])
        #expect(demo.status == 0, "\(demo.stderr)")
        #expect(try JSONParser.parse(demo.stdout)["rows"]?["_velo_posts"] == .int(500))
        #expect(demo.stderr.isEmpty, "no progress when stderr is not a terminal")
        let info = try VeloProcess.run(["info"], environment: ["VELO_DB": db])
        #expect(info.status == 0, "\(info.stderr)")
        #expect(info.stdout.contains("posts"))
        #expect(info.stdout.contains("_velo_posts_tags_tags_pivot"))
        #expect(info.stdout.contains("2026_06_11_202435_add_fingerprint_and_revocation_to_auth_tokens_table"))
        let again = try VeloProcess.run(["demo", "--out", db])
        #expect(again.status != 0)
        #expect(again.stderr.contains("already exists"))
    }

    /// Runs `velo info` on a bad input; expects one clear error line naming `mentions`, and the file unchanged.
    func expectFailure(_ arguments: [String], file: String?, mentions: [String]) throws {
        let before = file.flatMap { FileManager.default.contents(atPath: $0) }
        let result = try VeloProcess.run(arguments)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        for m in mentions { #expect(result.stderr.contains(m), "\(result.stderr) should mention \(m)") }
        #expect(!result.stderr.contains("Fatal error"))
        if let file { #expect(FileManager.default.contents(atPath: file) == before, "\(file) changed") }
    }

    @Test func badInputsGetOneClearLine() throws {
        let dir = Scratch.directory()
        let missing = dir.appendingPathComponent("missing.sqlite").path
        try expectFailure(["info", "--db", missing], file: nil, mentions: [missing, "no such file"])
        try expectFailure(["info", "--db", dir.path], file: nil, mentions: [dir.path, "directory"])
        let text = dir.appendingPathComponent("notes.sqlite").path
        try "just some notes\n".write(toFile: text, atomically: true, encoding: .utf8)
        try expectFailure(["info", "--db", text], file: text, mentions: [text, "not an SQLite database"])
        let plain = dir.appendingPathComponent("plain.sqlite").path
        try Database(path: plain, mode: .create).execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        try expectFailure(["info", "--db", plain], file: plain, mentions: [plain, "not a Veloquent database"])
        try expectFailure(["info"], file: nil, mentions: ["--db"])
    }

    @Test func malformedCollectionJSONNamesTheCollectionAndColumn() throws {
        let db = Scratch.directory().appendingPathComponent("t.sqlite").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "3"]).status == 0)
        try Database(path: db, mode: .readWrite).execute("UPDATE collections SET indexes = '[{\"columns\": [}' WHERE name = 'tags'")
        try expectFailure(["info", "--db", db], file: db, mentions: [db, "'tags'", "indexes", "malformed JSON"])
    }

    @Test func aDatabaseLockedByAWriterFailsAfterTheBusyTimeout() throws {
        let db = Scratch.directory().appendingPathComponent("t.sqlite").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "3"]).status == 0)
        // Read the file before taking the lock: closing any descriptor of a file drops this process's POSIX locks on it.
        let before = FileManager.default.contents(atPath: db)
        let writer = try Database(path: db, mode: .readWrite)
        try writer.execute("BEGIN EXCLUSIVE")
        try expectFailure(["info", "--db", db, "--busy-timeout", "0.2"], file: nil, mentions: [db, "locked"])
        try writer.execute("ROLLBACK")
        #expect(FileManager.default.contents(atPath: db) == before)
    }
}
