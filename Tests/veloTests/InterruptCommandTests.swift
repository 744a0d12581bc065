import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// SIGINT and SIGTERM during a long operation: velo stops, undoes what it started (partial archive, temporary
/// copy, temporary restore file, open transaction), releases the lock, and exits 130.
@Suite struct InterruptCommandTests {
    /// Starts velo, sends `signal` once `ready` holds (polled), and returns the exit status and stderr.
    static func interrupt(
        _ arguments: [String], signal: Int32, when ready: () -> Bool
    ) throws -> (status: Int32, stderr: String, signalled: Bool) {
        let process = Process()
        process.executableURL = VeloProcess.executable
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var signalled = false
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline {
            if ready() {
                kill(process.processIdentifier, signal)
                signalled = true
                break
            }
            usleep(2_000)
        }
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stderr, signalled)
    }

    static func files(under folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? []
    }

    @Test func anInterruptedAppBackupStopsEveryJobAndLeavesOnlyCompleteSnapshots() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "6", "--posts", "3000"]).status == 0)
        #expect(try VeloProcess.run(["init", "--repo", repo]).status == 0)
        let backup = try Self.interrupt(["backup", "--app", app, "--repo", repo, "--jobs", "2"], signal: SIGINT) {
            Self.files(under: repo + "/snapshots").contains { $0.contains(".tar.zst.") }
        }
        #expect(backup.signalled, "the backup ended before a partial archive was seen")
        #expect(backup.status == 130, "\(backup.stderr)")
        let left = Self.files(under: repo).filter { $0.contains(".tar.zst.") || $0.hasPrefix("tmp/") || $0 == "locks/exclusive.json" }
        #expect(left.isEmpty, "\(left)")
        let catalogued = try FileManager.default.contentsOfDirectory(atPath: repo + "/catalog").filter { !$0.contains("manifest") }
        #expect(catalogued.count < 7)
        #expect(try VeloProcess.run(["verify", "--all", "--repo", repo]).status == 0)
    }

    @Test func anInterruptedBackupAndRestoreLeaveNothingBehind() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "40000"]).status == 0)
        #expect(try VeloProcess.run(["init", "--repo", repo]).status == 0)
        // A rollback-journal source, read in place inside one read transaction while the archive is written.
        let backup = try Self.interrupt(["backup", "--db", db, "--repo", repo], signal: SIGINT) {
            Self.files(under: repo + "/snapshots").contains { $0.contains(".tar.zst.") }
        }
        #expect(backup.signalled, "the backup ended before its partial archive was seen")
        #expect(backup.status == 130, "\(backup.stderr)")
        #expect(backup.stderr.contains("interrupted"), "\(backup.stderr)")
        let left = Self.files(under: repo).filter { $0.contains(".tar.zst.") || $0.hasPrefix("tmp/") || $0 == "locks/exclusive.json" }
        #expect(left.isEmpty, "\(left)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo + "/catalog").isEmpty)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0)
        // A restore into a new file, stopped by SIGTERM while rows are written.
        let target = dir.appendingPathComponent("restored.sqlite").path
        let restore = try Self.interrupt(["restore", "latest", "--repo", repo, "--target", target], signal: SIGTERM) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            return names.contains { $0.hasPrefix("restored.sqlite.velo-restore-") }
        }
        #expect(restore.signalled, "the restore ended before its temporary file was seen")
        #expect(restore.status == 130, "\(restore.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("restored") }.isEmpty)
    }
}
