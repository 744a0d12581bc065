import Foundation
import Testing
import VeloKit

@testable import VeloFormat

/// Every command on a database of each Veloquent schema velo supports (issue 29): the oldest (veloquent/core 2.0),
/// the last before the auth_tokens migration of 2.8, and the current one, each made by `velo demo
/// --veloquent-migration`. Each command succeeds and a restore gives back the source's rows.
@Suite struct VeloquentVersionCommandTests {
    @Test(arguments: ["2026_04_28_133148_create_tenant_settings", "2026_06_02_190000_create_ai_settings_and_agents_collection", ""])
    func everyCommandWorksOnThatSchema(_ migration: String) throws {
        let dir = Scratch.directory("schema\(migration.prefix(10).filter(\.isNumber))")
        func at(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let db = at("tenant.sqlite"), repo = at("repo")
        let demo = ["demo", "--out", db, "--posts", "40"] + (migration.isEmpty ? [] : ["--veloquent-migration", migration])
        #expect(try VeloProcess.run(demo).status == 0)
        let label = migration.isEmpty ? "current" : migration
        try "{\"keep_last\": 5}".write(toFile: at("policy.json"), atomically: true, encoding: .utf8)
        for arguments in [
            ["backup", "--db", db, "--repo", repo], ["backup", "--db", db, "--repo", repo, "--full"], ["verify", "--all", "--repo", repo],
            ["snapshots", "--repo", repo], ["inspect", "latest", "--repo", repo], ["cat", "latest", "_velo_posts", "--repo", repo],
            ["plan", "latest", "--repo", repo, "--target", db],
            ["restore", "latest", "--repo", repo, "--target", at("new.sqlite")],
            ["restore", "latest", "--repo", repo, "--target", db, "--conflict", "overwrite", "--yes"],
            ["schema", "corrupt", "--db", db], ["schema", "orphans", "--db", db],
            ["transfer", "export", "--db", db, "--out", at("payload.json")],
            ["transfer", "import", at("payload.json"), "--target", at("imported.sqlite"), "--yes"],
            ["export", "latest", "--repo", repo, "--out", at("export.tar.zst")], ["verify", at("export.tar.zst")],
            ["prune", "--repo", repo, "--policy", at("policy.json"), "--dry-run"], ["status", "--repo", repo],
        ] {
            let run = try VeloProcess.run(arguments)
            #expect(run.status == 0, "\(label): velo \(arguments.prefix(2).joined(separator: " ")): \(run.stderr)\(run.stdout.prefix(500))")
            #expect(!run.stderr.contains("[in: "), "\(label): an SQL error reached the user: \(run.stderr)")
        }
        #expect(try Scratch.dump(at("new.sqlite")) == Scratch.dump(db), "\(label): the restore gave back other rows")
        let ids = (try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue ?? []).compactMap {
            $0["id"]?.stringValue
        }
        let diff = try VeloProcess.run(["diff", "--repo", repo, ids[0], ids[ids.count - 1]])
        #expect(diff.status == 0, "\(label): velo diff: \(diff.stderr)")
    }
}
