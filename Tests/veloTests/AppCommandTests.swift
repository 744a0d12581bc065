import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Whole apps: `velo demo --app`, `velo backup --app`, and `velo restore --tenant --app` with uploaded files.
@Suite struct AppCommandTests {
    /// Every regular file under `root`, by relative path: its bytes, permission bits and modification time.
    static func files(under root: String) throws -> [String: (Data, Int, Date)] {
        var result: [String: (Data, Int, Date)] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return result }
        while let relative = walker.nextObject() as? String {
            let path = (root as NSString).appendingPathComponent(relative)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            guard attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            result[relative] = (
                try Data(contentsOf: URL(fileURLWithPath: path)), (attributes[.posixPermissions] as! NSNumber).intValue,
                attributes[.modificationDate] as! Date
            )
        }
        return result
    }

    static func expectSameFiles(_ a: String, _ b: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let left = try files(under: a), right = try files(under: b)
        #expect(!left.isEmpty, "no files under \(a)", sourceLocation: sourceLocation)
        #expect(Set(left.keys) == Set(right.keys), sourceLocation: sourceLocation)
        for (path, (bytes, mode, time)) in left {
            guard let other = right[path] else { continue }
            #expect(other.0 == bytes, "\(path): content", sourceLocation: sourceLocation)
            #expect(
                other.1 == mode, "\(path): mode \(String(other.1, radix: 8)), not \(String(mode, radix: 8))", sourceLocation: sourceLocation
            )
            #expect(other.2 == time, "\(path): mtime", sourceLocation: sourceLocation)
        }
    }

    static func report(_ stdout: String) throws -> [String: JSONValue] {
        var bySource: [String: JSONValue] = [:]
        for source in try JSONParser.parse(stdout)["sources"]?.arrayValue ?? [] { bySource[source["source"]!.stringValue!] = source }
        return bySource
    }

    @Test func aMultiTenantAppBacksUpAndATenantRestoresIntoAFreshFolderWithItsFiles() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "3", "--posts", "60", "--files", "2"]).status == 0)
        // One file with unusual bits and a name to percent-encode, to see both come back.
        let odd = "\(app)/storage/tenants/2/app/uploads/collections/posts/a cover (1).png"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: odd))
        chmod(odd, 0o640)
        let backup = try VeloProcess.run(["backup", "--app", app, "--repo", repo, "--include-framework", "--jobs", "2", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let sources = try Self.report(backup.stdout)
        #expect(Set(sources.keys) == ["landlord", "tenant-001", "tenant-002", "tenant-003"])
        #expect(sources.values.allSatisfy { $0["status"] == .string("ok") })
        #expect(sources["tenant-002"]?["files"] == .number("3") && sources["landlord"]?["files"]?.isNull != false)
        #expect(try VeloProcess.run(["verify", "--all", "--repo", repo]).status == 0)
        // Each tenant is its own source, named in the catalog by app and tenant.
        let listed = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue ?? []
        #expect(Set(listed.compactMap { $0["source"]?.stringValue }).count == 4)
        #expect(Set(listed.compactMap { $0["tenant"]?.stringValue }) == ["landlord", "tenant-001", "tenant-002", "tenant-003"])

        let fresh = dir.appendingPathComponent("fresh").path
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        let restore = try VeloProcess.run(["restore", "--repo", repo, "--tenant", "tenant-002", "--app", fresh])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("3 added") && restore.stdout.contains("register it"), "\(restore.stdout)")
        #expect(
            try Scratch.dump("\(fresh)/database/tenants/velo_tenant_tenant_002.sqlite")
                == Scratch.dump("\(app)/database/tenants/velo_tenant_tenant_002.sqlite"))
        try Self.expectSameFiles("\(app)/storage/tenants/2", "\(fresh)/storage/tenants/2")
        // The archive's file entries come out one at a time too.
        let tenant2 = listed.first { $0["tenant"] == .string("tenant-002") }!["id"]!.stringValue!
        let cat = try VeloProcess.run(["cat", tenant2, "--repo", repo, "--file", "uploads/collections/posts/a cover (1).png"])
        #expect(cat.status == 0 && cat.stdoutData == Data([1, 2, 3]), "\(cat.stderr)")
        let missing = try VeloProcess.run(["cat", tenant2, "--repo", repo, "--file", "uploads/nothing.png"])
        #expect(missing.status == 1 && missing.stderr.contains("holds 3 uploaded files"), "\(missing.stderr)")
    }

    /// `latest` follows the tenant, tags and source given (restic's `latest --host`): after a merge restore into
    /// tenant-001, whose safety snapshot is the repository's newest, tenant-002's `latest` is still tenant-002's.
    @Test func latestFollowsTheTenantTagAndSource() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "2", "--posts", "20", "--files", "1"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--app", app, "--repo", repo]).status == 0)
        let merge = try VeloProcess.run(["restore", "latest", "--repo", repo, "--tenant", "tenant-001", "--app", app, "--yes", "--json"])
        #expect(merge.status == 0, "\(merge.stderr)")
        let safety = try #require(try JSONParser.parse(merge.stdout)["database"]?["safety_snapshot"]?.stringValue)
        let inspect = try VeloProcess.run(["inspect", "latest", "--repo", repo, "--json"])
        #expect(try JSONParser.parse(inspect.stdout)["id"]?.stringValue == safety, "the safety snapshot is the newest")
        let plan = try VeloProcess.run(["plan", "latest", "--repo", repo, "--tenant", "tenant-002", "--app", app, "--json"])
        #expect(plan.status == 0, "\(plan.stdout) \(plan.stderr)")
        #expect(plan.stdout.contains("velo_tenant_tenant_002.sqlite") && !plan.stdout.contains(safety), "\(plan.stdout)")
        let second = try VeloProcess.run([
            "restore", "latest", "--repo", repo, "--tenant", "tenant-002", "--app", app, "--yes", "--no-safety-snapshot",
        ])
        #expect(second.status == 0, "\(second.stderr)")
        // The safety snapshot carries its tenant, so tenant-001's latest is it; a tag or a source filters as well.
        let tagged = try VeloProcess.run(["inspect", "latest", "--repo", repo, "--tag", "tenant:tenant-002", "--json"])
        #expect(try JSONParser.parse(tagged.stdout)["app"]?["tenant_name"]?.stringValue == "tenant-002", "\(tagged.stdout)")
        let landlord = try VeloProcess.run(["inspect", "latest", "--repo", repo, "--source", "\(app)/database/database.sqlite", "--json"])
        #expect(try JSONParser.parse(landlord.stdout)["source_kind"]?.stringValue == "landlord", "\(landlord.stdout)")
        let verify = try VeloProcess.run(["verify", "--all", "--repo", repo, "--tag", "pre-restore", "--json"])
        #expect(try JSONParser.parse(verify.stdout).arrayValue?.map { $0["id"]?.stringValue } == [safety], "\(verify.stdout)")
        // A point in time is of one source: --source names it (into a new file), a tag or a tenant is refused.
        let fresh = dir.appendingPathComponent("as-of.sqlite").path
        let asOf = try VeloProcess.run([
            "restore", "--at", "2099-01-01T00:00:00Z", "--repo", repo, "--source", "\(app)/database/tenants/velo_tenant_tenant_002.sqlite",
            "--target", fresh, "--json",
        ])
        #expect(asOf.status == 0, "\(asOf.stderr)")
        #expect(try Scratch.dump(fresh) == Scratch.dump("\(app)/database/tenants/velo_tenant_tenant_002.sqlite"))
        let tagged2 = try VeloProcess.run([
            "restore", "--at", "2099-01-01T00:00:00Z", "--repo", repo, "--tag", "landlord", "--target", fresh,
        ])
        #expect(tagged2.status == 64 && tagged2.stderr.contains("--tag and --tenant do not apply"), "\(tagged2.stderr)")
        let none = try VeloProcess.run(["inspect", "latest", "--repo", repo, "--tag", "weekly"])
        #expect(none.status == 1 && none.stderr.contains("no snapshot of tag weekly"), "\(none.stderr)")
    }

    @Test func aSingleTenantAppRestoresItsDatabaseAndFiles() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "0", "--posts", "60", "--files", "3"]).status == 0)
        let backup = try VeloProcess.run(["backup", "--app", app, "--repo", repo, "--include-framework", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let sources = try Self.report(backup.stdout)
        #expect(sources.count == 1 && sources["Default Tenant"]?["kind"] == .string("single-tenant"))
        #expect(sources["Default Tenant"]?["files"] == .number("3"))
        let fresh = dir.appendingPathComponent("fresh").path
        let restore = try VeloProcess.run(["restore", "--repo", repo, "--tenant", "default tenant", "--app", fresh])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try Scratch.dump("\(fresh)/database/database.sqlite") == Scratch.dump("\(app)/database/database.sqlite"))
        try Self.expectSameFiles("\(app)/storage/tenants/1", "\(fresh)/storage/tenants/1")
    }

    @Test func aLockedAndACorruptTenantFailAloneAndAreNamed() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "4", "--posts", "30", "--files", "1"]).status == 0)
        let corrupt = "\(app)/database/tenants/velo_tenant_tenant_002.sqlite"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: corrupt))
        try handle.write(contentsOf: Data(repeating: 0x41, count: 100))  // the SQLite header is gone
        try handle.close()
        let locked = try Database(path: "\(app)/database/tenants/velo_tenant_tenant_003.sqlite", mode: .readWrite)
        try locked.execute("BEGIN EXCLUSIVE; DELETE FROM _velo_comments")
        defer { try? locked.execute("ROLLBACK") }
        let backup = try VeloProcess.run(["backup", "--app", app, "--repo", repo, "--busy-timeout", "0.2", "--json"])
        #expect(backup.status == 1)
        #expect(backup.stderr.contains("failed: tenant-002, tenant-003"), "\(backup.stderr)")
        let sources = try Self.report(backup.stdout)
        #expect(sources["tenant-001"]?["status"] == .string("ok") && sources["tenant-004"]?["status"] == .string("ok"))
        #expect(sources["landlord"]?["status"] == .string("ok"))
        #expect(sources["tenant-002"]?["status"] == .string("failed") && sources["tenant-003"]?["status"] == .string("failed"))
        #expect(sources["tenant-003"]?["reason"]?.stringValue?.contains("locked") == true, "\(String(describing: sources["tenant-003"]))")
        // The text report names them too.
        let text = try VeloProcess.run([
            "backup", "--app", app, "--repo", repo, "--busy-timeout", "0.2", "--tenants", "tenant-002,tenant-004",
        ])
        #expect(
            text.status == 1 && text.stderr.contains("failed: tenant-002") && text.stdout.contains("tenant-004"),
            "\(text.stdout)\(text.stderr)")
        let unknown = try VeloProcess.run(["backup", "--app", app, "--repo", repo, "--tenants", "nobody"])
        #expect(unknown.status == 64 && unknown.stderr.contains("no tenant 'nobody'"), "\(unknown.stderr)")
    }

    @Test func uncoveredSourcesAreReportedNotSkipped() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "2", "--posts", "20", "--files", "1"]).status == 0)
        // The tenants' uploads on S3 with no bucket named: velo cannot find them.
        let s3 = try String(contentsOfFile: "\(app)/.env", encoding: .utf8).replacingOccurrences(
            of: "FILESYSTEM_DISK=local", with: "FILESYSTEM_DISK=s3")
        try s3.write(toFile: "\(app)/.env", atomically: true, encoding: .utf8)
        let refused = try VeloProcess.run(["backup", "--app", app, "--repo", repo])
        #expect(refused.status == 1 && refused.stderr.contains("not covered: tenant-001, tenant-002"), "\(refused.stderr)")
        #expect(refused.stdout.contains("AWS_BUCKET is not set"), "\(refused.stdout)")
        let accepted = try VeloProcess.run(["backup", "--app", app, "--repo", repo, "--skip-uncovered"])
        #expect(accepted.status == 0 && accepted.stdout.contains("not-covered"), "\(accepted.stdout)\(accepted.stderr)")
        // A whole app on another database driver is reported, not silently skipped.
        let env = try String(contentsOfFile: "\(app)/.env", encoding: .utf8).replacingOccurrences(
            of: "DB_CONNECTION=sqlite", with: "DB_CONNECTION=mysql")
        try env.write(toFile: "\(app)/.env", atomically: true, encoding: .utf8)
        let mysql = try VeloProcess.run(["backup", "--app", app, "--repo", repo])
        #expect(mysql.status == 1 && mysql.stdout.contains("mysql"), "\(mysql.stdout)\(mysql.stderr)")
    }

    @Test func aFileChangedSinceTheBackupIsKeptUnderSkipAndReplacedUnderOverwrite() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "1", "--posts", "40", "--files", "3"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--app", app, "--repo", repo, "--tenants", "tenant-001"]).status == 0)
        let folder = "\(app)/storage/tenants/1/app/uploads/collections/posts"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        let changed = "\(folder)/\(names[0])", removed = "\(folder)/\(names[1])"
        let original = try Data(contentsOf: URL(fileURLWithPath: changed))
        let originalRemoved = try Data(contentsOf: URL(fileURLWithPath: removed))
        try Data("edited".utf8).write(to: URL(fileURLWithPath: changed))
        unlink(removed)

        let plan = try VeloProcess.run(["plan", "--repo", repo, "--tenant", "tenant-001", "--app", app])
        #expect(
            plan.stdout.contains("1 to add") && plan.stdout.contains("1 with other content (kept: skip)"), "\(plan.stdout)\(plan.stderr)")
        #expect(plan.stdout.contains("conflict-keep") && plan.stdout.contains(names[0]), "\(plan.stdout)")
        let skip = try VeloProcess.run(["restore", "--repo", repo, "--tenant", "tenant-001", "--app", app, "--yes", "--no-safety-snapshot"])
        #expect(skip.status == 0, "\(skip.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: changed)) == Data("edited".utf8))
        #expect(try Data(contentsOf: URL(fileURLWithPath: removed)) == originalRemoved)

        let overwrite = try VeloProcess.run([
            "restore", "--repo", repo, "--tenant", "tenant-001", "--app", app, "--yes", "--no-safety-snapshot", "--conflict", "overwrite",
        ])
        #expect(overwrite.status == 0, "\(overwrite.stderr)")
        #expect(overwrite.stdout.contains("1 replaced"), "\(overwrite.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: changed)) == original)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains("velo-restore") }.isEmpty)
    }

    /// A full archive's `files/` entry renamed (tar entry and manifest), or an incremental snapshot's file part
    /// renamed (its `segments.json` part and manifest): either way the name never reaches the disk.
    @Test(arguments: [true, false]) func fileEntriesThatWouldLeaveTheirFolderAreRefused(full: Bool) throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "1", "--posts", "20", "--files", "1"]).status == 0)
        let backup = try VeloProcess.run(
            ["backup", "--app", app, "--repo", repo, "--tenants", "tenant-001", "--json"] + (full ? ["--full"] : []))
        let id = try JSONParser.parse(backup.stdout)["sources"]!.arrayValue!.first!["snapshot"]!.stringValue!
        let archive = try Repository.open(repo).path(try Repository.open(repo).catalog.entries().first { $0.id == id }!.archive)
        let pristine = try ArchiveSurgery.entries(of: archive)
        let file = try #require(try Repository.open(repo).catalog.detail(id).manifest.entries.first { $0.path.hasPrefix("files/") }).path
        for hostile in [
            "files/uploads/%2E%2E/%2E%2E/%2E%2E/%2E%2E/escaped", "files/uploads/a%2F..%2F..%2Fescaped", "files/../../escaped",
            "/tmp/escaped",
        ] {
            var entries = pristine
            if full {
                entries[entries.firstIndex { $0.path == file }!].path = hostile
            } else {
                let index = entries.firstIndex { $0.path == "segments.json" }!
                var json = try JSONSerialization.jsonObject(with: Data(entries[index].bytes)) as! [String: Any]
                var files = json["files"] as! [String: Any]
                var parts = files["parts"] as! [[String: Any]]
                parts[parts.firstIndex { $0["path"] as? String == file }!]["path"] = hostile
                files["parts"] = parts
                json["files"] = files
                entries[index].bytes = Array(try JSONSerialization.data(withJSONObject: json))
            }
            try ArchiveSurgery.editManifest(&entries, "entries", where: "path", is: file) { $0["path"] = hostile }
            try ArchiveSurgery.write(entries, to: archive)
            try ArchiveSurgery.recatalog(repo: repo, id: id, archive: archive, manifest: true)
            let fresh = dir.appendingPathComponent("fresh-\(hostile.count)").path
            let restore = try VeloProcess.run(["restore", id, "--repo", repo, "--app", fresh])
            #expect(restore.status == 3, "\(hostile): \(restore.status) \(restore.stderr)")
            let refusal =
                hostile.hasPrefix("/") ? (full ? "absolute path" : "is not an uploaded file: /tmp/escaped") : "not a safe file path"
            #expect(restore.stderr.contains(refusal) || restore.stderr.contains("'..'"), "\(hostile): \(restore.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(fresh)/database/tenants/velo_tenant_tenant_001.sqlite"), "\(hostile)")
            let verify = try VeloProcess.run(["verify", id, "--repo", repo])
            #expect(verify.status == 3, "\(hostile): \(verify.stdout)")
        }
        let escaped = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("escaped") }
        #expect(escaped.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/escaped"))
    }
}
