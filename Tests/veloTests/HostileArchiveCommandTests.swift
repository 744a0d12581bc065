import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Archives made to lie, to explode or to smuggle: every command that reads them refuses them, names the fault,
/// stays within its memory bound, and a restore leaves the target as it was.
@Suite struct HostileArchiveCommandTests {
    /// A demo tenant, one catalogued snapshot of it, and an existing target to restore into.
    struct Setup {
        var dir: URL
        var db: String
        var repo: String
        var id: String
        var archive: String
        var target: String

        init(_ name: String = #function, posts: Int = 40) throws {
            dir = Scratch.directory(name)
            db = dir.appendingPathComponent("tenant.sqlite").path
            repo = dir.appendingPathComponent("repo").path
            target = dir.appendingPathComponent("target.sqlite").path
            #expect(try VeloProcess.run(["demo", "--out", db, "--posts", String(posts)]).status == 0)
            let backup = try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo, "--json"])
            #expect(backup.status == 0, "\(backup.stderr)")
            let json = try JSONParser.parse(backup.stdout)
            id = json["id"]!.stringValue!
            archive = json["archive"]!.stringValue!
            try FileManager.default.copyItem(atPath: db, toPath: target)
            try Database(path: target, mode: .readWrite).execute("DELETE FROM _velo_posts WHERE rowid % 3 = 0")
        }

        /// Every command that reads the snapshot refuses it, and neither restore changes or creates anything.
        func expectRefusedEverywhere(_ fault: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let before = try Data(contentsOf: URL(fileURLWithPath: target))
            let verify = try VeloProcess.run(["verify", id, "--repo", repo])
            #expect(
                verify.status == 3 && verify.stdout.contains(fault), "verify: \(verify.stdout) \(verify.stderr)",
                sourceLocation: sourceLocation)
            for t in [target, dir.appendingPathComponent("new.sqlite").path] {
                let plan = try VeloProcess.run(["plan", id, "--repo", repo, "--target", t])
                #expect(
                    plan.status == 3 && plan.stdout.contains(fault), "plan into \(t): \(plan.stdout) \(plan.stderr)",
                    sourceLocation: sourceLocation)
            }
            let fresh = dir.appendingPathComponent("new.sqlite").path
            let restoreNew = try VeloProcess.run(["restore", id, "--repo", repo, "--target", fresh])
            #expect(
                restoreNew.status == 3 && restoreNew.stderr.contains(fault), "restore new: \(restoreNew.stderr)",
                sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: fresh), sourceLocation: sourceLocation)
            let restoreExisting = try VeloProcess.run(["restore", id, "--repo", repo, "--target", target, "--yes", "--no-safety-snapshot"])
            #expect(
                restoreExisting.status == 3 && restoreExisting.stderr.contains(fault), "restore --yes: \(restoreExisting.stderr)",
                sourceLocation: sourceLocation)
            #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == before, "the target changed", sourceLocation: sourceLocation)
            let litter = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("velo-restore") }
            #expect(litter.isEmpty, "\(litter)", sourceLocation: sourceLocation)
        }
    }

    @Test func aManifestThatLiesAboutRowsIsRefusedByRestoreAsByPlan() throws {
        let s = try Setup()
        var entries = try ArchiveSurgery.entries(of: s.archive)
        let part = entries.first { $0.path.hasPrefix("records/_velo_posts/") }!.path
        try ArchiveSurgery.editManifest(&entries, "entries", where: "path", is: part) { $0["rows"] = ($0["rows"] as! Int) + 1 }
        try ArchiveSurgery.editManifest(&entries, "tables", where: "name", is: "_velo_posts") { $0["rows"] = ($0["rows"] as! Int) + 1 }
        try ArchiveSurgery.write(entries, to: s.archive)
        // The catalog agrees with the lying manifest and the new file: only counting the rows can tell.
        try ArchiveSurgery.recatalog(repo: s.repo, id: s.id, archive: s.archive, manifest: true)
        try s.expectRefusedEverywhere("rows, the manifest says")
    }

    @Test func aManifestThatLiesAboutBytesOrDiffersFromTheCatalogIsRefused() throws {
        let s = try Setup()
        var entries = try ArchiveSurgery.entries(of: s.archive)
        let part = entries.first { $0.path.hasPrefix("records/_velo_comments/") }!.path
        try ArchiveSurgery.editManifest(&entries, "entries", where: "path", is: part) { $0["bytes"] = ($0["bytes"] as! Int) + 7 }
        try ArchiveSurgery.write(entries, to: s.archive)
        // Only the file's size and SHA-256 are made to agree: the catalog keeps the true manifest.
        try ArchiveSurgery.recatalog(repo: s.repo, id: s.id, archive: s.archive, manifest: false)
        try s.expectRefusedEverywhere("manifest")
    }

    @Test func aCatalogEntryThatLiesAboutTheArchiveSizeIsRefused() throws {
        // Found by FormatTwoDamagePropertyTests: a digit of `archive_bytes` flipped left the SHA-256 right, and only
        // verify noticed; plan and restore went ahead on an entry that was no longer what the backup wrote.
        let s = try Setup()
        let entryPath = "\(s.repo)/catalog/\(s.id).json"
        var entry = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: entryPath))) as! [String: Any]
        let bytes = entry["archive_bytes"] as! Int
        entry["archive_bytes"] = bytes + 10
        try JSONSerialization.data(withJSONObject: entry).write(to: URL(fileURLWithPath: entryPath))
        try s.expectRefusedEverywhere("archive has \(bytes) bytes, the catalog recorded \(bytes + 10)")
    }

    @Test func anArchiveWhoseManifestIsNotTheOneTheCatalogRecordedIsRefused() throws {
        let s = try Setup()
        var entries = try ArchiveSurgery.entries(of: s.archive)
        // Self-consistent, but not what was written: only the catalog's record can tell.
        try ArchiveSurgery.editManifest(&entries, "tables", where: "name", is: "_velo_posts") { $0["role"] = "other" }
        try ArchiveSurgery.write(entries, to: s.archive)
        try ArchiveSurgery.recatalog(repo: s.repo, id: s.id, archive: s.archive, manifest: false)
        try s.expectRefusedEverywhere("differs from the manifest the catalog recorded")
    }

    @Test func schemaSQLThatSmugglesASecondStatementIsRefusedByPlan() throws {
        let s = try Setup()
        var entries = try ArchiveSurgery.entries(of: s.archive)
        let i = entries.firstIndex { $0.path == "schema/sqlite_schema.ndjson" }!
        let text = String(decoding: entries[i].bytes, as: UTF8.self)
        let smuggled = text.replacingOccurrences(
            of: "CREATE TABLE \\\"_velo_tags\\\" (", with: "CREATE TABLE x (a); DELETE FROM superusers; CREATE TABLE \\\"_velo_tags\\\" (")
        #expect(smuggled != text)
        try ArchiveSurgery.replace(&entries, "schema/sqlite_schema.ndjson", with: Array(smuggled.utf8))
        try ArchiveSurgery.write(entries, to: s.archive)
        try ArchiveSurgery.recatalog(repo: s.repo, id: s.id, archive: s.archive, manifest: true)
        let plan = try VeloProcess.run(["plan", s.id, "--repo", s.repo, "--target", s.dir.appendingPathComponent("new.sqlite").path])
        #expect(plan.status == 3 && plan.stdout.contains("more than one statement"), "\(plan.stdout)")
        let planExisting = try VeloProcess.run(["plan", s.id, "--repo", s.repo, "--target", s.target])
        #expect(planExisting.status == 3 && planExisting.stdout.contains("more than one statement"), "\(planExisting.stdout)")
        let restore = try VeloProcess.run(["restore", s.id, "--repo", s.repo, "--target", s.dir.appendingPathComponent("new.sqlite").path])
        #expect(restore.status == 3 && restore.stderr.contains("more than one statement"), "\(restore.stderr)")
    }

    @Test func dataAfterTheEndOfTheTarStreamIsDamage() throws {
        let s = try Setup()
        let lone = s.dir.appendingPathComponent("lone.tar.zst").path
        try FileManager.default.copyItem(atPath: s.archive, toPath: lone)
        try ArchiveSurgery.appendFrame(Array("DELETE FROM superusers;\n".utf8), to: lone)
        let fault = "after the end of the tar stream"
        let verify = try VeloProcess.run(["verify", lone])
        #expect(verify.status == 3 && verify.stdout.contains(fault), "\(verify.stdout)")
        let inspect = try VeloProcess.run(["inspect", lone])
        #expect(inspect.status != 0 && inspect.stderr.contains(fault), "\(inspect.stderr)")
        let plan = try VeloProcess.run(["plan", lone, "--target", s.dir.appendingPathComponent("new.sqlite").path])
        #expect(plan.status == 3 && plan.stdout.contains(fault), "\(plan.stdout)")
        let restore = try VeloProcess.run(["restore", lone, "--target", s.dir.appendingPathComponent("new.sqlite").path])
        #expect(
            restore.status == 3 && !FileManager.default.fileExists(atPath: s.dir.appendingPathComponent("new.sqlite").path),
            "\(restore.stderr)")
        // A tar writer's zero padding is not data: other tools' archives pad to a 10240-byte record.
        let padded = s.dir.appendingPathComponent("padded.tar.zst").path
        try FileManager.default.copyItem(atPath: s.archive, toPath: padded)
        try ArchiveSurgery.appendFrame([UInt8](repeating: 0, count: 8192), to: padded)
        #expect(try VeloProcess.run(["verify", padded]).status == 0)
        // And the catalogued original was never touched by all this.
        #expect(try VeloProcess.run(["verify", s.id, "--repo", s.repo]).status == 0)
    }

    /// Builds a snapshot whose posts part is `bytes`, catalogued so that only the limits can stop it early.
    static func bomb(_ s: Setup, _ bytes: [UInt8]) throws {
        var entries = try ArchiveSurgery.entries(of: s.archive)
        let part = entries.first { $0.path.hasPrefix("records/_velo_posts/") }!.path
        try ArchiveSurgery.replace(&entries, part, with: bytes)
        try ArchiveSurgery.write(entries, to: s.archive)
        try ArchiveSurgery.recatalog(repo: s.repo, id: s.id, archive: s.archive, manifest: true)
        #expect(try FileSystem.fileSize(s.archive) < 1 << 20, "the bomb should be small on disk")
    }

    @Test(arguments: [
        // An entry far past the limit: refused from its tar header, before one byte of it is read.
        (100 << 20, "more than the 32 MiB"),
        // Under the entry limit but one endless row: refused at the row limit.
        (24 << 20, "longer than 16 MiB"),
    ])
    func anExpansionBombIsDamageFoundInBoundedTimeAndMemory(size: Int, fault: String) throws {
        let s = try Setup(posts: 10)
        try Self.bomb(s, [UInt8](repeating: 0, count: size))
        let started = ContinuousClock.now
        let fresh = s.dir.appendingPathComponent("new.sqlite").path
        let runs: [([String], Double)] = [
            (["verify", s.id, "--repo", s.repo], 64), (["cat", s.id, "_velo_posts", "--repo", s.repo], 64),
            (["plan", s.id, "--repo", s.repo, "--target", s.target], 64), (["plan", s.id, "--repo", s.repo, "--target", fresh], 64),
            (["restore", s.id, "--repo", s.repo, "--target", fresh], 128),
            (["restore", s.id, "--repo", s.repo, "--target", s.target, "--yes", "--no-safety-snapshot"], 128),
        ]
        // The bounds hold for a velo that starts at 25 MiB (a debug build's `velo --version`); what a larger
        // binary holds from its start (velo serve's Hummingbird and NIO added about 2 MiB, the S3 client's
        // async-http-client and TLS about 2.5 more) is not the data path's.
        // (The largest of three starts: one start varies by most of a MiB on a loaded machine.)
        let startup = try (0..<3).map { _ in try VeloProcess.runMeasured(["--version"]).peakMiB }.max()!
        let slack = max(0, startup - 25)
        for (arguments, bound) in runs {
            let (result, peak) = try VeloProcess.runMeasured(arguments)
            #expect(result.status != 0, "\(arguments[0]) accepted a bomb")
            #expect((result.stdout + result.stderr).contains(fault), "\(arguments[0]): \(result.stdout) \(result.stderr)")
            #expect(peak < bound + slack, "\(arguments[0]) peaked at \(peak) MiB (velo --version: \(startup) MiB)")
        }
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(!FileManager.default.fileExists(atPath: fresh))
    }

    @Test func aFrameThatAsksForAHugeWindowIsRefused() throws {
        let s = try Setup(posts: 5)
        // zstd's frame header states the window; a 2 GiB one would be allocated before any data is seen.
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xD8]  // magic, no checksum/size, window 2^31
        frame += [0x01, 0x00, 0x00]  // a last raw block of 0 bytes
        let lone = s.dir.appendingPathComponent("window.tar.zst").path
        try Data(frame).write(to: URL(fileURLWithPath: lone))
        let (verify, peak) = try VeloProcess.runMeasured(["verify", lone])
        #expect(verify.status == 3 && verify.stdout.contains("window"), "\(verify.stdout)")
        #expect(peak < 64)
    }

    @Test func aBackupRefusesARowThatNoVeloCouldReadBack() throws {
        let s = try Setup(posts: 5)
        try Database(path: s.db, mode: .readWrite).execute("UPDATE _velo_posts SET body = zeroblob(13000000) WHERE rowid = 2")
        let before = try FileManager.default.contentsOfDirectory(atPath: s.repo + "/catalog").count
        let backup = try VeloProcess.run(["backup", "--full", "--db", s.db, "--repo", s.repo])
        #expect(
            backup.status == 1 && backup.stderr.contains("table _velo_posts, row 2") && backup.stderr.contains("16 MiB"), "\(backup.stderr)"
        )
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.repo + "/catalog").count == before)
    }
}
