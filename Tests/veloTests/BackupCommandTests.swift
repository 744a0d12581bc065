import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

@Suite struct BackupCommandTests {

    func demo(_ dir: URL, posts: Int = 300) throws -> String {
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let result = try VeloProcess.run(["demo", "--out", db, "--posts", String(posts)])
        #expect(result.status == 0, "\(result.stderr)")
        return db
    }

    @Test func backupListVerifyInspectCatDiffEndToEnd() throws {
        let dir = Scratch.directory()
        let db = try demo(dir)
        let repo = dir.appendingPathComponent("repo").path
        let env = ["VELO_DB": db, "VELO_REPO": repo]
        let first = try VeloProcess.run(["backup", "--json", "--tag", "nightly"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        let result = try JSONParser.parse(first.stdout)
        let id = try #require(result["id"]?.stringValue)
        #expect(result["rows"]?["_velo_posts"] == .int(300))
        #expect(result["archive"]?.stringValue?.hasPrefix(repo) == true)

        try Database(path: db, mode: .readWrite).execute(
            "UPDATE _velo_posts SET title = 'edited' WHERE rowid <= 4; DELETE FROM _velo_tags WHERE name = 'ai'")
        #expect(try VeloProcess.run(["backup"], environment: env).status == 0)

        let list = try VeloProcess.run(["snapshots", "--json"], environment: env)
        let snapshots = try #require(try JSONParser.parse(list.stdout).arrayValue)
        #expect(snapshots.count == 2)
        #expect(snapshots[0]["id"] == .string(id) && snapshots[0]["tags"] == .array([.string("nightly")]))
        #expect(try VeloProcess.run(["snapshots", "--tag", "nightly"], environment: env).stdout.contains(String(id.prefix(8))))

        let verify = try VeloProcess.run(["verify", "--all", "--json"], environment: env)
        #expect(verify.status == 0, "\(verify.stdout)")
        #expect(try JSONParser.parse(verify.stdout).arrayValue?.allSatisfy { $0["ok"] == .bool(true) } == true)
        #expect(try VeloProcess.run(["snapshots"], environment: env).stdout.contains("ok 20"))

        let inspect = try JSONParser.parse(try VeloProcess.run(["inspect", String(id.prefix(6)), "--json"], environment: env).stdout)
        #expect(inspect["format_version"] == .int(2), "velo backup makes incremental snapshots unless --full")
        // The second snapshot stored only the segments that changed (4 posts, a tag and its pivot rows).
        let second = try JSONParser.parse(try VeloProcess.run(["inspect", "latest", "--json"], environment: env).stdout)
        let newSegments = try #require(second["incremental"]?["new_segments"]?.intValue)
        let segments = try #require(second["incremental"]?["segments"]?.intValue)
        #expect(newSegments > 0 && newSegments * 5 < segments, "\(newSegments) of \(segments) segments new")
        #expect(second["incremental"]?["changed_tables"]?.arrayValue?.contains(.string("_velo_posts")) == true)
        // The 4 edited posts are stored against the frame of their old versions.
        #expect(
            second["incremental"]?["delta_tables"]?.arrayValue?.contains(.string("_velo_posts")) == true,
            "\(second["incremental"] ?? .null)")
        #expect(try VeloProcess.run(["inspect", "latest"], environment: env).stdout.contains("segments new"))
        let posts = inspect["collections"]?.arrayValue?.first { $0["name"] == .string("posts") }
        #expect(posts?["rows"] == .int(300))
        #expect(posts?["fields"]?.arrayValue?.count == 11)
        #expect(posts?["pivots"]?.arrayValue?.first?["table"] == .string("_velo_posts_tags_tags_pivot"))

        let cat = try VeloProcess.run(["cat", "latest", "posts"], environment: env)
        let lines = cat.stdout.split(separator: "\n")
        #expect(lines.count == 300)
        #expect(try JSONParser.parse(String(lines[0]))["title"] == .string("edited"))
        let csv = try VeloProcess.run(["cat", id, "settings", "--format", "csv"], environment: env)
        #expect(csv.stdout.hasPrefix("id,group,name,locked,payload,created_at,updated_at\r\n"))

        let diff = try JSONParser.parse(try VeloProcess.run(["diff", id, "latest", "--json"], environment: env).stdout)
        let tables = try #require(diff["tables"]?.arrayValue)
        let postsDiff = tables.first { $0["table"] == .string("_velo_posts") }
        #expect(postsDiff?["changed"] == .int(4) && postsDiff?["added"] == .int(0) && postsDiff?["unchanged"] == .int(296))
        #expect(postsDiff?["examples"]?["changed"]?.arrayValue?.count == 4)
        let tagsDiff = tables.first { $0["table"] == .string("_velo_tags") }
        #expect(tagsDiff?["removed"] == .int(1))
        let pivotDiff = tables.first { $0["table"] == .string("_velo_posts_tags_tags_pivot") }
        #expect(pivotDiff?["removed"] == .int(0), "pivot rows stay: Veloquent's cascade is in application code")
    }

    @Test func tarListsTheArchiveHeaderFirstAndManifestLast() throws {
        let dir = Scratch.directory()
        let db = try demo(dir, posts: 20)
        let repo = dir.appendingPathComponent("repo").path
        let backup = try JSONParser.parse(try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo, "--json"]).stdout)
        let archive = try #require(backup["archive"]?.stringValue)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "--zstd", "-tf", archive]
        let pipe = Pipe()
        tar.standardOutput = pipe
        tar.standardError = FileHandle.nullDevice
        try tar.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        tar.waitUntilExit()
        try #require(tar.terminationStatus == 0, "tar --zstd is not available here")
        #expect(listing.first == "velo-snapshot.json")
        #expect(listing.last == "manifest.json")
        #expect(listing.contains("records/_velo_posts/000001.ndjson"))
        let mode = try FileManager.default.attributesOfItem(atPath: archive)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
    }

    @Test func damageMakesVerifyExitThreeNamingTheEntry() throws {
        let dir = Scratch.directory()
        let db = try demo(dir, posts: 200)
        let repo = dir.appendingPathComponent("repo").path
        let backup = try JSONParser.parse(try VeloProcess.run(["backup", "--full", "--db", db, "--repo", repo, "--json"]).stdout)
        let archive = try #require(backup["archive"]?.stringValue)
        // Rewrite one row inside the archive, keeping it a valid tar.zst: only the checksums can tell.
        let rebuilt = dir.appendingPathComponent("rebuilt.tar")
        let script =
            "set -e; d=\(dir.path)/x; mkdir -p $d; cd $d; tar --zstd -xf \(archive); sed -i '1s/\"2025-/\"2024-/' records/_velo_posts/000001.ndjson; tar --format=pax --zstd -cf \(rebuilt.path).zst $(tar --zstd -tf \(archive)); cp \(rebuilt.path).zst \(archive)"
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", script]
        try shell.run()
        shell.waitUntilExit()
        try #require(shell.terminationStatus == 0, "tar --zstd is not available here")
        let verify = try VeloProcess.run(["verify", "--repo", repo, "latest"])
        #expect(verify.status == 3)
        #expect(verify.stdout.contains("DAMAGED"))
        #expect(verify.stdout.contains("records/_velo_posts/000001.ndjson: SHA-256 mismatch"), "\(verify.stdout)")
        #expect(verify.stdout.contains("archive SHA-256"), "\(verify.stdout)")
        #expect(try VeloProcess.run(["snapshots", "--repo", repo]).stdout.contains("DAMAGED"))
        // The same archive alone, without the catalog: checked against its own manifest.
        let lone = try VeloProcess.run(["verify", archive])
        #expect(lone.status == 3 && lone.stdout.contains("SHA-256 mismatch"))
        // Garbage is not an archive at all.
        let junk = dir.appendingPathComponent("junk.tar.zst").path
        try "junk".write(toFile: junk, atomically: true, encoding: .utf8)
        let bad = try VeloProcess.run(["verify", junk, "--json"])
        #expect(bad.status == 3)
        #expect(try JSONParser.parse(bad.stdout).arrayValue?.first?["problems"]?.arrayValue?.first?.stringValue?.contains("zstd") == true)
    }

    @Test func aKilledBackupLeavesNothingThatLooksCompleteAndTheNextOneWorks() throws {
        let dir = Scratch.directory()
        let db = try demo(dir, posts: 30_000)
        let repo = dir.appendingPathComponent("repo").path
        for delay in [30_000, 120_000, 250_000, 400_000, 700_000] as [UInt32] {
            let process = Process()
            process.executableURL = VeloProcess.executable
            process.arguments = ["backup", "--db", db, "--repo", repo]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try expectConsistent(repo)
        }
        let next = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--json"])
        #expect(next.status == 0, "\(next.stderr)")
        try expectConsistent(repo)
        #expect(try VeloProcess.run(["verify", "--repo", repo, "--all"]).status == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: repo + "/tmp")
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// Every archive under a final name is catalogued and every catalogued archive exists.
    func expectConsistent(_ repo: String) throws {
        guard Repository.exists(at: repo) else { return }
        let repository = try Repository.open(repo)
        let catalogued = Set(try repository.catalog.entries().map { repository.path($0.archive) })
        let walker = FileManager.default.enumerator(atPath: repo + "/snapshots")
        var archives = Set<String>()
        while let path = walker?.nextObject() as? String {
            if path.hasSuffix(".tar.zst") && !(path as NSString).lastPathComponent.hasPrefix(".") {
                archives.insert(repo + "/snapshots/" + path)
            }
        }
        for archive in catalogued { #expect(FileManager.default.fileExists(atPath: archive), "catalogued but missing: \(archive)") }
        // An archive renamed into place just before the kill is adopted by the next writer; none is half-written.
        for archive in archives.subtracting(catalogued) {
            #expect(try ArchiveAudit.run(path: archive).problems.isEmpty, "\(archive) is under a final name but not sound")
        }
    }

    @Test func aSecondWriterIsToldWhoHoldsTheLock() throws {
        let dir = Scratch.directory()
        let db = try demo(dir, posts: 10)
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["init", "--repo", repo]).status == 0)
        let owner =
            #"{"pid":\#(getpid()),"host":"\#(ProcessInfo.processInfo.hostName)","time":"2026-11-27T03:00:00Z","command":"velo backup"}"#
        try owner.write(toFile: repo + "/locks/exclusive.json", atomically: true, encoding: .utf8)
        let blocked = try VeloProcess.run(["backup", "--db", db, "--repo", repo])
        #expect(blocked.status == 11, "restic's status for a locked repository")
        #expect(blocked.stderr.contains("locked by velo backup (pid \(getpid())"), "\(blocked.stderr)")
        let json = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--json"])
        #expect(json.status == 11 && json.stderr.isEmpty)
        let error = try JSONParser.parse(json.stdout)["error"]
        #expect(error?["kind"] == .string("locked") && error?["exit_status"] == .int(11), "\(json.stdout)")
        // --retry-lock waits for the owner to finish instead of failing (and fails when it does not).
        let started = ContinuousClock.now
        let waited = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--retry-lock", "1s"])
        #expect(waited.status == 11 && ContinuousClock.now - started >= .seconds(1))
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.6) { unlink(repo + "/locks/exclusive.json") }
        let retried = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--retry-lock", "30s"])
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--retry-lock", "soon"]).status == 64)
        try owner.write(toFile: repo + "/locks/exclusive.json", atomically: true, encoding: .utf8)
        #expect(try VeloProcess.run(["unlock", "--repo", repo]).status != 0, "a live owner's lock is not broken without --force")
        // A lock whose owner is gone is reported and taken over.
        let stale =
            #"{"pid":2000000000,"host":"\#(ProcessInfo.processInfo.hostName)","time":"2026-11-27T03:00:00Z","command":"velo backup"}"#
        try stale.write(toFile: repo + "/locks/exclusive.json", atomically: true, encoding: .utf8)
        let next = try VeloProcess.run(["backup", "--db", db, "--repo", repo])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stderr.contains("stale lock"))
        try stale.write(toFile: repo + "/locks/exclusive.json", atomically: true, encoding: .utf8)
        let unlock = try VeloProcess.run(["unlock", "--repo", repo])
        #expect(unlock.status == 0 && unlock.stdout.contains("removed the lock"))
    }

    @Test func badInputsGetOneClearLine() throws {
        let dir = Scratch.directory()
        let repo = dir.appendingPathComponent("repo").path
        let missing = try VeloProcess.run(["backup", "--db", dir.path + "/nope.sqlite", "--repo", repo])
        #expect(missing.status == 1 && missing.stderr.contains("nope.sqlite: no such file"))
        #expect(try VeloProcess.run(["snapshots", "--repo", dir.path + "/norepo"]).stderr.contains("not a velo repository"))
        let db = try demo(dir, posts: 5)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0)
        let ambiguous = try VeloProcess.run(["inspect", "--repo", repo, "zzzz"])
        #expect(ambiguous.status == 1 && ambiguous.stderr.contains("no snapshot matches 'zzzz'"))
        let level = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--level", "40"])
        #expect(level.status == 64 && level.stderr.contains("--level"), "usage errors exit 64")
        let time = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--time", "yesterday"])
        #expect(time.status == 1 && time.stderr.contains("ISO 8601"))
        let table = try VeloProcess.run(["cat", "--repo", repo, "latest", "cache"])
        #expect(table.status == 1 && table.stderr.contains("left out"), "\(table.stderr)")
    }
}
