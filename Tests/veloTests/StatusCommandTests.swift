import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

@Suite struct StatusCommandTests {
    func folder(_ name: String = #function) throws -> URL {
        Scratch.directory(name)
    }

    @Test func exitsAsAMonitoringPluginAndWritesPrometheusMetrics() throws {
        let dir = try folder()
        let db = dir.appendingPathComponent("t.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        // No repository: the check cannot answer (UNKNOWN, 3).
        let unknown = try VeloProcess.run(["status", "--repo", repo])
        #expect(unknown.status == 3 && unknown.stderr.contains(repo), "\(unknown.stderr)")
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0)
        let warning = try VeloProcess.run(["status", "--repo", repo])
        #expect(warning.status == 1 && warning.stdout.contains("never verified"), "\(warning.stdout)")
        #expect(try VeloProcess.run(["verify", "--repo", repo]).status == 0)
        let prom = dir.appendingPathComponent("velo.prom").path
        let ok = try VeloProcess.run(["status", "--repo", repo, "--json", "--prometheus", prom])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        let json = try JSONParser.parse(ok.stdout)
        #expect(json["state"]?.stringValue == "ok")
        #expect(json["sources"]?.arrayValue?.first?["source"]?.stringValue == db)
        #expect(json["sources"]?.arrayValue?.first?["last_verification"]?["ok"]?.boolValue == true)
        let metrics = try String(contentsOfFile: prom, encoding: .utf8)
        #expect(metrics.contains("velo_last_verify_ok{source=\"\(db)\",kind=\"tenant\"} 1"))
        // A snapshot older than --max-age is critical (2).
        let old = try VeloProcess.run([
            "backup", "--db", dir.appendingPathComponent("t.sqlite").path, "--repo", dir.appendingPathComponent("old").path,
            "--time", "2020-01-01T00:00:00Z",
        ])
        #expect(old.status == 0)
        let critical = try VeloProcess.run(["status", "--repo", dir.appendingPathComponent("old").path, "--max-age", "26h"])
        #expect(critical.status == 2 && critical.stdout.contains("CRITICAL"), "\(critical.stdout)")
        let usage = try VeloProcess.run(["status", "--repo", repo, "--max-age", "soon"])
        #expect(usage.status == 64 && usage.stderr.contains("--max-age soon"))
    }

    @Test func runDoesOneRoundAndStatusReadsTheSameConfig() throws {
        let dir = try folder()
        let db = dir.appendingPathComponent("t.sqlite").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        let config = dir.appendingPathComponent("velo.json").path
        try """
        {"repository": "repo", "databases": ["t.sqlite"], "backup_every": "1h", "retention": {"keep_last": 3},
         "verify_every": "7d", "prometheus": "velo.prom"}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let first = try VeloProcess.run(["run", "--config", config])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("backup  \(db): snapshot") && first.stdout.contains(": ok") && first.stdout.contains("status  OK"))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("velo.prom").path))
        let second = try VeloProcess.run(["run", "--config", config, "--json"])
        #expect(second.status == 0)
        let json = try JSONParser.parse(second.stdout)
        #expect(json["backups"]?.arrayValue?.first?["action"]?.stringValue == "not-due")
        #expect(json["verified"]?.arrayValue?.isEmpty == true)
        #expect(try VeloProcess.run(["status", "--config", config]).status == 0)
        // A database the config names but that cannot be backed up: the round says which, exits 1; status is critical.
        try """
        {"repository": "repo", "databases": ["t.sqlite", "missing.sqlite"]}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let failed = try VeloProcess.run(["run", "--config", config])
        #expect(failed.status == 1 && failed.stdout.contains("missing.sqlite: FAILED"), "\(failed.stdout)")
        #expect(try VeloProcess.run(["status", "--config", config]).status == 2)
        let bad = try VeloProcess.run(["run", "--config", dir.appendingPathComponent("none.json").path])
        #expect(bad.status == 1 && bad.stderr.contains("none.json"))
    }
}
