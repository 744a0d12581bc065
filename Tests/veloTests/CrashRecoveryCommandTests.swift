import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// What a kill -9 leaves behind is cleaned up by the next run, and never shown as damage.
@Suite struct CrashRecoveryCommandTests {
    /// The pid of a process that has ended.
    static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func litterOfKilledProcessesIsRemovedByTheNextRun() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo]).status == 0)
        let dead = try Self.deadPID()
        let live = getpid()
        try FileManager.default.createDirectory(atPath: repo + "/trash", withIntermediateDirectories: true)
        let litter = [
            "trash/.0123456789abcdef.json.tmp-\(dead)", "locks/exclusive.json.new-\(dead)", "catalog/.x.json.tmp-\(dead)",
            ".velo-repository.json.tmp-\(dead)",
        ]
        let kept = ["catalog/.y.json.tmp-\(live)"]  // a live process may still rename it into place
        for name in litter + kept { FileManager.default.createFile(atPath: "\(repo)/\(name)", contents: Data("x".utf8)) }
        #expect(try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo]).status == 0)
        for name in litter { #expect(!FileManager.default.fileExists(atPath: "\(repo)/\(name)"), "\(name) is still there") }
        for name in kept { #expect(FileManager.default.fileExists(atPath: "\(repo)/\(name)"), "\(name) was removed") }
        // A restore into a new file removes what a killed restore left beside it.
        let target = dir.appendingPathComponent("restored.sqlite").path
        for suffix in ["", "-journal"] {
            FileManager.default.createFile(atPath: "\(target).velo-restore-\(dead)\(suffix)", contents: Data(count: 4096))
        }
        FileManager.default.createFile(atPath: "\(target).velo-restore-\(live)", contents: Data())
        let restore = try VeloProcess.run(["restore", "latest", "--repo", repo, "--target", target])
        #expect(restore.status == 0, "\(restore.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("velo-restore") }
        #expect(left == ["restored.sqlite.velo-restore-\(live)"], "\(left)")
    }

    @Test func aSnapshotBeingRemovedIsNeverListedNorReportedAsDamage() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        var ids: [String] = []
        for hour in 1...2 {
            let backup = try VeloProcess.run([
                "backup", "--full", "--db", db, "--repo", repo, "--time", "2026-11-27T0\(hour):00:00Z", "--json",
            ])
            ids.append(try JSONParser.parse(backup.stdout)["id"]!.stringValue!)
        }
        // A prune killed right after writing its removal marker: the archive and catalog entry are still there.
        let archive = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue![0]["archive"]!
            .stringValue!
        try FileManager.default.createDirectory(atPath: repo + "/trash", withIntermediateDirectories: true)
        let relative = String(archive.dropFirst(repo.count + 1))
        try Data("{\"id\":\"\(ids[0])\",\"archive\":\"\(relative)\"}".utf8).write(to: URL(fileURLWithPath: "\(repo)/trash/\(ids[0]).json"))
        let listed = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue!.compactMap {
            $0["id"]?.stringValue
        }
        #expect(listed == [ids[1]])
        let verify = try VeloProcess.run(["verify", "--all", "--repo", repo])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        // verify recorded its result under the lock, and so finished the removal.
        #expect(!FileManager.default.fileExists(atPath: archive))
        #expect(!FileManager.default.fileExists(atPath: "\(repo)/trash/\(ids[0]).json"))
    }

    @Test func aDamagedCatalogEntryIsReportedWhileBackupsGoOn() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        let first = try JSONParser.parse(try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo, "--json"]).stdout)["id"]!
            .stringValue!
        let second = try JSONParser.parse(try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo, "--json"]).stdout)["id"]!
            .stringValue!
        let entry = "\(repo)/catalog/\(first).json"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: entry))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: entry))
        let snapshots = try VeloProcess.run(["snapshots", "--repo", repo])
        #expect(snapshots.status == 0 && snapshots.stdout.contains(String(second.prefix(8))), "\(snapshots.stdout) \(snapshots.stderr)")
        #expect(snapshots.stderr.contains(entry) && snapshots.stderr.contains("damaged catalog entry"), "\(snapshots.stderr)")
        let verify = try VeloProcess.run(["verify", "--all", "--repo", repo])
        #expect(verify.status == 3 && verify.stdout.contains(entry), "\(verify.stdout) \(verify.stderr)")
        // Recording its results under the lock, verify let the writer's recovery rebuild the entry from its archive.
        #expect(verify.stderr.contains("rebuilt from its archive"), "\(verify.stderr)")
        // Damaged again, the next scheduled backup still works, and rebuilds it too.
        try bytes.prefix(10).write(to: URL(fileURLWithPath: entry))
        let third = try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo, "--json"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stderr.contains("rebuilt from its archive"), "\(third.stderr)")
        let all = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue!
        #expect(all.count == 3)
        #expect(try VeloProcess.run(["verify", "--all", "--repo", repo]).status == 0)
    }
}
