import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// Bad input gets one clear line naming the option, file or value at fault, a non-zero exit, and changes nothing.
@Suite struct BadInputCommandTests {
    @Test func invalidTimesAreErrorsNamingTheOptionNeverAnotherInstant() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        for bad in [
            "2026-11-27T05:30:00", "2026-11-27T25:00:00Z", "2026-02-30T03:00:00Z", "2026-13-01T00:00:00Z", "yesterday",
            "2026-11-27T05:30:00+25:00",
        ] {
            let backup = try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo, "--time", bad])
            #expect(backup.status == 1 && backup.stderr.contains("--time \(bad):"), "\(bad): \(backup.stderr)")
            let snapshots = try VeloProcess.run(["snapshots", "--repo", repo, "--at", bad])
            #expect(snapshots.status != 0 && snapshots.stderr.contains("--at \(bad):"), "\(bad): \(snapshots.stderr)")
        }
        // Nothing was created by the refused backups.
        #expect(!FileManager.default.fileExists(atPath: repo))
        // Valid forms keep their instant: an offset, fractional seconds, a bare date (midnight UTC).
        for (given, saved) in [
            ("2026-11-27T05:30:00+01:00", "2026-11-27T04:30:00Z"), ("2026-11-27T05:30:00.75Z", "2026-11-27T05:30:00Z"),
            ("2028-02-29", "2028-02-29T00:00:00Z"), ("2026-11-27 05:30:00-0230", "2026-11-27T08:00:00Z"),
        ] {
            let backup = try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo, "--time", given, "--json"])
            #expect(backup.status == 0, "\(given): \(backup.stderr)")
            #expect(try JSONParser.parse(backup.stdout)["time"] == .string(saved), "\(given)")
        }
        let restore = try VeloProcess.run([
            "restore", "--at", "2026-02-30T03:00:00Z", "--repo", repo, "--target", dir.appendingPathComponent("x.sqlite").path,
        ])
        #expect(restore.status == 1 && restore.stderr.contains("--at 2026-02-30T03:00:00Z: day 30 does not exist"), "\(restore.stderr)")
    }

    @Test func anEmptySelectorSelectsNothing() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo]).status == 0)
        let target = dir.appendingPathComponent("x.sqlite").path
        let restore = try VeloProcess.run(["restore", "", "--repo", repo, "--target", target])
        #expect(restore.status == 1 && restore.stderr.contains("empty snapshot name"), "\(restore.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
        for command in [["inspect", ""], ["verify", ""], ["cat", "", "_velo_posts"], ["plan", "", "--target", target]] {
            let result = try VeloProcess.run(command + ["--repo", repo])
            #expect(result.status == 1 && result.stderr.contains("empty snapshot name"), "\(command[0]): \(result.stderr)")
        }
    }

    @Test func aBackupOfABadSourceNamesTheUsersFileAndCreatesNoRepository() throws {
        let dir = Scratch.directory()
        let empty = dir.appendingPathComponent("empty.sqlite").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        let plain = dir.appendingPathComponent("plain.sqlite").path
        try Database(path: plain, mode: .create).execute("PRAGMA journal_mode = DELETE; CREATE TABLE notes (body TEXT)")
        let missing = dir.appendingPathComponent("missing.sqlite").path
        for (source, fault) in [(empty, "not a Veloquent database"), (plain, "not a Veloquent database"), (missing, "no such file")] {
            let repo = dir.appendingPathComponent("repo-\((source as NSString).lastPathComponent)").path
            let backup = try VeloProcess.run(["backup", "--full", "--db", source, "--repo", repo])
            #expect(backup.status == 1, "\(source)")
            #expect(backup.stderr.contains(source) && backup.stderr.contains(fault), "\(backup.stderr)")
            #expect(!backup.stderr.contains("copy-"), "names velo's temporary copy: \(backup.stderr)")
            #expect(!FileManager.default.fileExists(atPath: repo), "a failed backup created \(repo)")
        }
        // Into an existing repository, the error names the user's file too (the rollback-journal copy is velo's).
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["init", "--repo", repo]).status == 0)
        let intoExisting = try VeloProcess.run(["backup", "--full", "--db", plain, "--repo", repo])
        #expect(
            intoExisting.status == 1 && intoExisting.stderr.contains(plain) && !intoExisting.stderr.contains("/tmp/copy-"),
            "\(intoExisting.stderr)")
    }

    @Test func verifyOfADirectoryIsAUsageErrorNotDamage() throws {
        let dir = Scratch.directory()
        let result = try VeloProcess.run(["verify", dir.path + "/"])
        #expect(result.status == 1, "\(result.status)")
        #expect(result.stdout.isEmpty && result.stderr.contains("is a directory"), "\(result.stdout) \(result.stderr)")
    }
}
