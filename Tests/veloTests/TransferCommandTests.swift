import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

@Suite struct TransferCommandTests {
    func bytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

    @Test func exportImportRoundTripAndDiffShowsNoRowChanges() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "120"]).status == 0)
        let options = try VeloProcess.run(["transfer", "options", "--db", db, "--json"])
        #expect(options.status == 0)
        let parsed = try JSONParser.parse(options.stdout)
        #expect(parsed.objectValue?.map(\.0) == ["collections", "system_tables"])
        #expect(parsed["collections"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["comments", "posts", "tags", "users"])

        let payload = dir.appendingPathComponent("schema-transfer.json").path
        let export = try VeloProcess.run([
            "transfer", "export", "--db", db, "--out", payload, "--system-tables", "superusers,oauth_providers",
        ])
        #expect(export.status == 0, "\(export.stderr)")
        var st = stat()
        stat(payload, &st)
        #expect(st.st_mode & 0o777 == 0o600)
        // Standard output carries the same payload.
        let stdout = try VeloProcess.run(["transfer", "export", "--db", db, "--system-tables", "superusers,oauth_providers"])
        #expect(
            try JSONParser.parse(stdout.stdout)["records"]
                == JSONParser.parse(try String(contentsOfFile: payload, encoding: .utf8))["records"])

        let target = dir.appendingPathComponent("new.sqlite").path
        let imported = try VeloProcess.run(["transfer", "import", payload, "--target", target, "--json"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let result = try JSONParser.parse(imported.stdout)
        #expect(result.objectValue?.map(\.0) == ["metadata", "records"])
        #expect(result["records"]?.objectValue?.map(\.0).prefix(2) == ["superusers", "oauth_providers"])
        #expect(
            result["records"]?["_velo_posts"]
                == .object([("inserted", .number("120")), ("updated", .number("0")), ("skipped", .number("0"))]))

        // Snapshots of both: no row changes in the collections' tables.
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--tag", "a"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", target, "--repo", repo, "--tag", "b"]).status == 0)
        let list = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue ?? []
        let ids = list.compactMap { $0["id"]?.stringValue }
        #expect(ids.count == 2)
        let diff = try VeloProcess.run(["diff", ids[0], ids[1], "--repo", repo, "--json"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let tables = try JSONParser.parse(diff.stdout)["tables"]?.arrayValue ?? []
        for t in tables where (t["table"]?.stringValue ?? "").hasPrefix("_velo_") || t["table"] == .string("superusers") {
            #expect(t["added"] == .number("0") && t["removed"] == .number("0") && t["changed"] == .number("0"), "\(JSONWriter.string(t))")
        }
    }

    @Test func aSuperuserEmailCollisionExits3AndLeavesTheTargetByteIdentical() throws {
        let dir = Scratch.directory()
        let source = dir.appendingPathComponent("a.sqlite").path
        let target = dir.appendingPathComponent("b.sqlite").path
        #expect(try VeloProcess.run(["demo", "--out", source, "--posts", "20"]).status == 0)
        #expect(try VeloProcess.run(["demo", "--out", target, "--posts", "20", "--seed", "5"]).status == 0)
        let payload = dir.appendingPathComponent("p.json").path
        #expect(
            try VeloProcess.run([
                "transfer", "export", "--db", source, "--collections", "users", "--system-tables", "superusers", "--out", payload,
            ]).status == 0)
        let before = bytes(target)
        let plan = try VeloProcess.run(["transfer", "import", payload, "--target", target, "--dry-run", "--json"])
        #expect(plan.status == 3)
        let json = try JSONParser.parse(plan.stdout)
        #expect(json["can_proceed"] == .bool(false))
        #expect(json["findings"]?.arrayValue?.contains { $0["check"] == .string("unique") && $0["table"] == .string("superusers") } == true)
        let refused = try VeloProcess.run(["transfer", "import", payload, "--target", target])
        #expect(refused.status == 1 && refused.stderr.contains("--yes"))
        let blocked = try VeloProcess.run([
            "transfer", "import", payload, "--target", target, "--yes", "--repo", dir.appendingPathComponent("repo").path,
        ])
        #expect(blocked.status == 3)
        #expect(
            blocked.stderr.contains("the import is blocked") && blocked.stderr.contains("superusers.email")
                && blocked.stderr.contains("nothing was changed"))
        #expect(bytes(target) == before)
    }

    @Test func anImportIntoAnExistingDatabaseTakesASafetySnapshotAndAcceptsTheEnvelope() throws {
        let dir = Scratch.directory()
        let source = dir.appendingPathComponent("a.sqlite").path
        let target = dir.appendingPathComponent("b.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", source, "--posts", "30"]).status == 0)
        #expect(try VeloProcess.run(["demo", "--out", target, "--posts", "30"]).status == 0)
        try Database(path: source, mode: .readWrite).execute("UPDATE _velo_posts SET title = 'from source' WHERE rowid <= 5")
        let payload = dir.appendingPathComponent("p.json").path
        #expect(try VeloProcess.run(["transfer", "export", "--db", source, "--collections", "posts", "--out", payload]).status == 0)
        // The response envelope and the request body (whose conflict applies) are read too.
        let data = try String(contentsOfFile: payload, encoding: .utf8)
        let body = dir.appendingPathComponent("body.json").path
        try Data(#"{"payload":\#(data),"conflict":"overwrite"}"#.utf8).write(to: URL(fileURLWithPath: body))
        let envelope = dir.appendingPathComponent("envelope.json").path
        try Data(#"{"message":"OK","data":\#(data)}"#.utf8).write(to: URL(fileURLWithPath: envelope))
        let skipped = try VeloProcess.run(["transfer", "import", envelope, "--target", target, "--dry-run", "--json"])
        #expect(skipped.status == 0)
        #expect(try JSONParser.parse(skipped.stdout)["records"]?["_velo_posts"]?["skipped"] == .number("30"))
        let done = try VeloProcess.run(["transfer", "import", body, "--target", target, "--yes", "--repo", repo])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(done.stdout.contains("conflict overwrite") && done.stdout.contains("tag pre-import"))
        #expect(try Database(path: target).scalar("SELECT count(*) FROM _velo_posts WHERE title = 'from source'") == .integer(5))
        let snapshots = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue ?? []
        #expect(snapshots.count == 1 && snapshots.first?["tags"] == .array([.string("pre-import")]))
    }

    @Test func backupFromPayloadJoinsTheRepository() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "40"]).status == 0)
        let payload = dir.appendingPathComponent("p.json").path
        #expect(try VeloProcess.run(["transfer", "export", "--db", db, "--out", payload]).status == 0)
        let exportedAt = try JSONParser.parse(try String(contentsOfFile: payload, encoding: .utf8))["exported_at"]?.stringValue
        let backup = try VeloProcess.run(["backup", "--from-payload", payload, "--repo", repo, "--tag", "veloquent", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let result = try JSONParser.parse(backup.stdout)
        #expect(result["time"]?.stringValue.flatMap(Timestamp.parseISO8601) == exportedAt.flatMap(Timestamp.parseISO8601))
        #expect(result["rows"]?["_velo_posts"] == .number("40"))
        #expect(try VeloProcess.run(["verify", "latest", "--repo", repo]).status == 0)
        let restored = dir.appendingPathComponent("restored.sqlite").path
        #expect(try VeloProcess.run(["restore", "latest", "--repo", repo, "--target", restored]).status == 0)
        #expect(try Database(path: restored).scalar("SELECT count(*) FROM _velo_posts") == .integer(40))
        // Offline export from the snapshot.
        let again = try VeloProcess.run(["transfer", "export", "latest", "--repo", repo])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            try JSONParser.parse(again.stdout)["records"]
                == JSONParser.parse(try String(contentsOfFile: payload, encoding: .utf8))["records"])
    }

    @Test func badInputIsAOneLineErrorAndCreatesNothing() throws {
        let dir = Scratch.directory()
        let target = dir.appendingPathComponent("new.sqlite").path
        for (name, text, expected) in [
            ("notjson.json", "not json", "malformed JSON at byte 1: invalid literal"),
            ("version.json", #"{"version":3}"#, "payload version 3"),
            ("quotes.json", #"{"version":1,"records":{"a\"b":[]}}"#, "not a Veloquent table name"),
            ("settings.json", #"{"version":1,"records":{"settings":[{"id":1}]}}"#, "Table 'settings' is not importable."),
            ("nope.json", #"{"version":1,"records":{"_velo_nope":[{"id":"x"}]}}"#, "Table '_velo_nope' is not importable."),
        ] {
            let path = dir.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let run = try VeloProcess.run(["transfer", "import", path, "--target", target])
            #expect(run.status != 0, "\(name)")
            #expect(run.stderr.contains(expected), "\(name): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target), "\(name)")
        }
        let notAllowed = try VeloProcess.run(["transfer", "export", "--db", target, "--system-tables", "settings"])
        #expect(notAllowed.status == 1 && notAllowed.stderr.contains("Table 'settings' is not allowed for export/import."))
    }
}
