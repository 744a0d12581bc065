import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct AppBackupTests {
    func demoApp(tenants: Int, name: String = #function) throws -> (app: String, repo: Repository) {
        let dir = Fixtures.temporaryDirectory(name)
        var options = DemoApp.Options()
        options.tenants = tenants
        options.posts = 30
        options.files = 2
        let app = dir.appendingPathComponent("app").path
        _ = try DemoApp(options: options).write(to: app)
        return (app, try Repository.open(dir.appendingPathComponent("repo").path, create: true))
    }

    @Test func theLayoutFollowsVeloquent() throws {
        let (app, _) = try demoApp(tenants: 2)
        let layout = try AppLayout.load(app)
        #expect(layout.tenancy && layout.driver == "sqlite" && layout.disk == "local")
        #expect(layout.defaultDatabase == app + "/database/database.sqlite")
        #expect(layout.tenantDatabasePath("velo_tenant_acme") == app + "/database/tenants/velo_tenant_acme.sqlite")
        #expect(layout.tenantDatabasePath("custom/x.sqlite") == app + "/database/custom/x.sqlite")
        #expect(layout.tenantDatabasePath("/abs/t.sqlite") == "/abs/t.sqlite")
        let sources = try layout.sources()
        #expect(sources.map(\.label) == ["landlord", "tenant-001", "tenant-002"])
        #expect(sources[2].uploads?.root == app + "/storage/tenants/2/app" && sources[0].uploads == nil)
        #expect(try layout.sources(selecting: ["TENANT-002.localhost", "landlord"]).map(\.label) == ["landlord", "tenant-002"])
        // Uploads on S3 with no bucket named: the tenants are not covered, the landlord (no files) is.
        var s3 = layout
        s3.disk = "s3"
        #expect(try s3.sources().map { $0.notCovered?.contains("AWS_BUCKET is not set") ?? false } == [false, true, true])
        // Laravel's s3 disk: each tenant under tenants/{id}/app of the bucket, AWS's endpoint unless one is named.
        s3.environment = AppEnvironment(values: ["AWS_BUCKET": "uploads-bucket", "AWS_DEFAULT_REGION": "eu-west-3"])
        #expect(
            try s3.sources().map { $0.uploads?.root } == [
                nil, "s3:https://s3.eu-west-3.amazonaws.com/uploads-bucket/tenants/1/app",
                "s3:https://s3.eu-west-3.amazonaws.com/uploads-bucket/tenants/2/app",
            ])
        s3.environment = AppEnvironment(values: [
            "AWS_BUCKET": "uploads-bucket", "AWS_ENDPOINT": "http://127.0.0.1:9000", "AWS_USE_PATH_STYLE_ENDPOINT": "true",
        ])
        let bucket = try #require(try s3.sources()[1].uploads as? BucketUploads)
        #expect(bucket.location.pathStyle && bucket.location.hostHeader == "127.0.0.1:9000" && bucket.location.region == "us-east-1")
        s3.environment = AppEnvironment(values: ["AWS_BUCKET": "uploads-bucket", "AWS_ENDPOINT": "minio:9000"])
        #expect(try s3.sources()[1].notCovered?.contains("AWS_ENDPOINT 'minio:9000' is not an http(s) URL") == true)
        // A bucket that cannot be a host name (or whose dots TLS would not cover) is addressed path-style.
        for (name, pathStyle) in [("media-files", false), ("Media_Files", true), ("media.example.com", true)] {
            s3.environment = AppEnvironment(values: ["AWS_BUCKET": name])
            #expect(try #require(try s3.sources()[1].uploads as? BucketUploads).location.pathStyle == pathStyle, "\(name)")
        }
        s3.environment = AppEnvironment(values: ["AWS_BUCKET": "media/../other"])
        #expect(try s3.sources()[1].notCovered?.contains("AWS_BUCKET 'media/../other' is not a bucket name") == true)
    }

    @Test func theEnvDecidesTheDatabasesAndWhatIsCovered() throws {
        let app = Fixtures.temporaryDirectory().appendingPathComponent("app").path
        try FileManager.default.createDirectory(atPath: app + "/database", withIntermediateDirectories: true)
        func write(_ env: String) throws { try env.write(toFile: app + "/.env", atomically: true, encoding: .utf8) }
        try write("VELO_TENANCY_ENABLED=false\nDB_DATABASE=main.sqlite\nFILESYSTEM_DISK=s3\n")
        var layout = try AppLayout.load(app)
        #expect(!layout.tenancy && layout.defaultDatabase == app + "/database/main.sqlite")
        let single = try layout.sources()
        #expect(single.count == 1 && single[0].kind == .singleTenant && single[0].notCovered?.contains("AWS_BUCKET") == true)
        try write("DB_CONNECTION=pgsql\nLANDLORD_DB_CONNECTION=sqlite\nLANDLORD_DB_DATABASE=/srv/landlord.sqlite\n")
        layout = try AppLayout.load(app)
        #expect(layout.driver == "sqlite" && layout.defaultDatabase == "/srv/landlord.sqlite")
        try write("DB_CONNECTION=mysql\nDB_DATABASE=veloquent\n")
        layout = try AppLayout.load(app)
        #expect(try layout.sources().map { $0.notCovered?.contains("mysql") == true } == [true])
        try write("VELO_TENANCY_ENABLED=maybe\n")
        #expect(throws: VeloError.self) { try AppLayout.load(app) }
    }

    @Test func filesGoInWithModeAndTimeLinksAndSpecialFilesAreReportedNotFollowed() throws {
        let (app, repo) = try demoApp(tenants: 1)
        let uploads = app + "/storage/tenants/1/app/uploads"
        try Data("{\"not\":\"rows\"}\n{".utf8).write(to: URL(fileURLWithPath: uploads + "/export.ndjson"))
        chmod(uploads + "/export.ndjson", 0o600)
        var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_700_000_000, tv_nsec: 123_456_789)]
        utimensat(AT_FDCWD, uploads + "/export.ndjson", &times, 0)
        symlink("/etc/passwd", uploads + "/passwd")
        mkfifo(uploads + "/pipe", 0o600)
        let layout = try AppLayout.load(app)
        let report = try AppBackup.run(layout: layout, sources: try layout.sources(), repository: repo, options: AppBackup.Options())
        let tenant = try #require(report.sources.first { $0.source == "tenant-001" })
        #expect(tenant.status == .ok && tenant.files == 3)
        #expect(tenant.skippedFiles?.count == 2)
        #expect(tenant.skippedFiles?.contains { $0.contains("passwd: a symbolic link, not followed") } == true)
        let entry = try #require(try repo.catalog.entries().first { $0.app?.tenantName == "tenant-001" })
        #expect(entry.app?.tenantID == 1 && entry.sourceKind == "tenant" && entry.files == 3)
        let manifest = try repo.catalog.detail(entry.id).manifest
        let export = try #require(manifest.files.first { $0.path == "files/uploads/export.ndjson" })
        #expect(export.mode == 0o600 && export.modified == 1_700_000_000_123_456_789 && export.rows == nil)
        // The manifest's file keys survive its JSON, and a full read checks the files like any entry.
        #expect(try Manifest(json: try JSONParser.parse(Array(JSONWriter.string(manifest.json).utf8))) == manifest)
        let audit = try ArchiveAudit.run(path: repo.path(entry.archive), expectedSHA256: entry.archiveSHA256, recordedManifest: manifest)
        #expect(audit.problems.isEmpty, "\(audit.problems)")
    }

    @Test func stagedFilesAreDiscardedWhenTheRestoreFailsAndRenamedInOtherwise() throws {
        let (app, repo) = try demoApp(tenants: 1)
        let layout = try AppLayout.load(app)
        _ = try AppBackup.run(
            layout: layout, sources: try layout.sources(selecting: ["tenant-001"]), repository: repo, options: AppBackup.Options())
        let entry = try #require(try repo.catalog.entries().last)
        let manifest = try repo.catalog.detail(entry.id).manifest
        let root = Fixtures.temporaryDirectory().appendingPathComponent("storage").path
        let plan = try FilesRestore.plan(manifest: manifest, archive: repo.path(entry.archive), root: root, strategy: .skip)
        #expect(plan.count(.add) == 2)
        let selected = SelectedSnapshot.catalogued(entry, repository: repo)
        let discarded = try FilesRestore.stage(plan, manifest: manifest, reader: try SnapshotReader(selected))
        discarded.discard()
        #expect(try Self.regularFiles(root).isEmpty)
        let staged = try FilesRestore.stage(plan, manifest: manifest, reader: try SnapshotReader(selected))
        #expect(try Self.regularFiles(root).allSatisfy { $0.contains(".velo-restore-") })
        try staged.commit()
        #expect(try Self.regularFiles(root).sorted() == plan.items.map(\.path).sorted())
        let again = try FilesRestore.plan(manifest: manifest, archive: repo.path(entry.archive), root: root, strategy: .skip)
        #expect(again.count(.unchanged) == 2)
        // A link on the way out of the root is refused, not followed.
        let posts = root + "/uploads/collections/posts"
        try FileManager.default.removeItem(atPath: posts)
        symlink("/tmp", posts)
        #expect(throws: VeloError.self) { try FilesRestore.plan(manifest: manifest, archive: "a", root: root, strategy: .overwrite) }
    }

    @Test func filesFollowTheRecordsSelectedAndTheLandlordIgnoresACollectionSelection() throws {
        let (app, repo) = try demoApp(tenants: 1)
        let other = app + "/storage/tenants/1/app/uploads/collections/tags"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Data("t".utf8).write(to: URL(fileURLWithPath: other + "/t.png"))
        let layout = try AppLayout.load(app)
        var options = AppBackup.Options()
        options.backup.collections = ["tags"]
        let selected = try AppBackup.run(layout: layout, sources: try layout.sources(), repository: repo, options: options)
        #expect(selected.sources.map(\.status) == [.ok, .ok], "\(selected.sources.map(\.reason))")
        #expect(selected.sources[1].files == 1)
        options.backup.collections = nil
        options.backup.records = false
        let metadataOnly = try AppBackup.run(
            layout: layout, sources: try layout.sources(selecting: ["tenant-001"]), repository: repo, options: options)
        #expect(metadataOnly.sources[0].status == .ok && metadataOnly.sources[0].files == nil)
    }

    static func regularFiles(_ root: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var result: [String] = []
        while let relative = walker.nextObject() as? String {
            var info = stat()
            if lstat(root + "/" + relative, &info) == 0, info.st_mode & S_IFMT == S_IFREG { result.append(relative) }
        }
        return result
    }
}
