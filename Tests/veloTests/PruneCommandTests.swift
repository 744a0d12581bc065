import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

@Suite struct PruneCommandTests {
    @Test func backupWithPruneRotatesAndPruneReportsReasons() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("t.sqlite").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        let policy = dir.appendingPathComponent("policy.json").path
        try #"{"keep_daily": 3, "keep_tags": ["pin"], "timezone": "Europe/Berlin"}"#.write(
            toFile: policy, atomically: true, encoding: .utf8)
        let env = ["VELO_DB": db, "VELO_REPO": dir.appendingPathComponent("repo").path]
        for day in 1...6 {
            var args = ["backup", "--time", "2026-11-0\(day)T03:00:00+01:00", "--prune", policy, "--json"]
            if day == 1 { args += ["--tag", "pin"] }
            let result = try VeloProcess.run(args, environment: env)
            #expect(result.status == 0, "\(result.stderr)")
            let json = try JSONParser.parse(result.stdout)
            #expect(json["backup"]?["id"]?.stringValue != nil)
            #expect(json["prune"]?["keep"]?.arrayValue != nil)
        }
        let snapshots = try JSONParser.parse(try VeloProcess.run(["snapshots", "--json"], environment: env).stdout).arrayValue ?? []
        #expect(
            snapshots.compactMap { $0["time"]?.stringValue } == [
                "2026-11-01T02:00:00Z", "2026-11-04T02:00:00Z", "2026-11-05T02:00:00Z", "2026-11-06T02:00:00Z",
            ])
        let dry = try VeloProcess.run(["prune", "--policy", policy, "--dry-run", "--json"], environment: env)
        let report = try JSONParser.parse(dry.stdout)
        #expect(report["remove"]?.arrayValue?.isEmpty == true)
        let reasons = report["keep"]?.arrayValue?.compactMap { $0["reasons"]?.arrayValue?.compactMap(\.stringValue) } ?? []
        #expect(reasons.contains(["newest", "daily 1/3 (2026-11-06)"]), "\(reasons)")
        #expect(reasons.contains(["tag pin"]), "\(reasons)")
        let text = try VeloProcess.run(["prune", "--policy", policy, "--dry-run"], environment: env)
        #expect(text.stdout.contains("4 kept, 0 would remove"))
        try #"{"keep_daily": -5}"#.write(toFile: policy, atomically: true, encoding: .utf8)
        let bad = try VeloProcess.run(["prune", "--policy", policy], environment: env)
        #expect(bad.status == 1 && bad.stderr.contains("keep_daily is -5"))
        // A bad policy stops `backup --prune` before it backs up.
        #expect(try VeloProcess.run(["backup", "--prune", policy], environment: env).status == 1)
        #expect((try JSONParser.parse(try VeloProcess.run(["snapshots", "--json"], environment: env).stdout).arrayValue ?? []).count == 4)
    }
}
