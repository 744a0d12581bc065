import Crypto
import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// velo's backup routes over HTTP: each `data` is what the CLI prints under `--json`.
@Suite struct BackupRouteTests {
    @Test func backupListInspectVerify() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        #expect(try await server.request("GET", "/api/backups", token: token).data == .array([]))
        let made = try await server.request("POST", "/api/backups", json: #"{"tags":["nightly"]}"#, token: token)
        #expect(made.status == 200)
        #expect(made.message == "Backup completed successfully.")
        let id = try #require(made.data?["id"]?.stringValue)
        #expect(made.data?["rows"]?.objectValue?.isEmpty == false)
        let list = try #require(try await server.request("GET", "/api/backups?tag=nightly", token: token).data?.arrayValue)
        #expect(list.count == 1)
        // The same shape as `velo snapshots --json` (one definition: SnapshotListing), without the server's folders.
        let repo = try Repository.open(server.repository!)
        let expected = ClientJSON.scrubbed(try JSONValueEncoder().encode(repo.catalog.scan().entries.map { SnapshotListing($0, in: repo) }))
        #expect(list.first?["source"] == .string("tenant.sqlite"))
        #expect(.array(list) == expected)
        #expect(try await server.request("GET", "/api/backups?tag=weekly", token: token).data == .array([]))
        let inspect = try await server.request("GET", "/api/backups/\(id.prefix(10))", token: token)
        #expect(inspect.status == 200)
        #expect(inspect.data?["id"]?.stringValue == id)
        #expect(inspect.data?["collections"]?.arrayValue?.isEmpty == false)
        let one = try await server.request("POST", "/api/backups/latest/verify", token: token)
        #expect(one.data?.arrayValue?.count == 1)
        #expect(one.data?.arrayValue?.first?["ok"] == .bool(true))
        let all = try await server.request("POST", "/api/backups/verify", token: token)
        #expect(all.data?.arrayValue?.count == 1)
        #expect(try await server.request("GET", "/api/backups/ffffffff", token: token).status == 404)
        #expect(try await server.request("GET", "/api/backups/..%2Fetc", token: token).status == 404)
        let bad = try await server.request("POST", "/api/backups", json: #"{"tags":"x","level":40}"#, token: token)
        #expect(bad.status == 422)
        #expect(bad.json?["errors"]?["tags"] != nil && bad.json?["errors"]?["level"] != nil)
    }

    /// `POST /api/backups` writes incremental snapshots (format 2), as `velo backup` does: a second backup of
    /// the served database, unchanged but for the login's token, adds a few kilobytes, not a second copy.
    @Test func backupsThroughTheAPIAreIncremental() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let first = try #require(try await server.request("POST", "/api/backups", token: token).data?["id"]?.stringValue)
        let second = try #require(try await server.request("POST", "/api/backups", token: token).data?["id"]?.stringValue)
        let repo = try Repository.open(server.repository!)
        for id in [first, second] { #expect(try repo.catalog.detail(id).header.version == 2, "\(id): format 2") }
        let added = try #require(repo.catalog.entry(second)).addedBytes
        #expect(added <= 64 << 10, "the second backup added \(added) bytes")
    }

    /// On a server of an app (`--config` naming it), a tenant's snapshot restores with its uploaded files, as
    /// `velo restore --app` does: one operation, files written aside and renamed in once the database committed.
    @Test func aTenantRestoresWithItsUploadedFiles() async throws {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "velo-serve-app-\(getpid())-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let app = (directory as NSString).appendingPathComponent("app")
        var demo = DemoApp.Options()
        demo.tenants = 1
        demo.posts = 20
        demo.files = 2
        _ = try DemoApp(options: demo).write(to: app)
        let layout = try AppLayout.load(app)
        let tenantDatabase = try #require(try layout.sources().first { $0.kind == .tenant }?.databasePath)
        try Database(path: tenantDatabase, mode: .readWrite).prepare("UPDATE \"superusers\" SET \"password\" = ?").run([
            .text(TestServer.passwordHash)
        ])
        let server = try await TestServer(configure: {
            $0.databases = .landlord(layout.defaultDatabase)
            $0.app = app
        })
        defer { Task { await server.stop() } }
        let repo = try Repository.open(try #require(server.repository), create: true)
        _ = try AppBackup.run(layout: layout, sources: try layout.sources(), repository: repo, options: AppBackup.Options())
        let uploads = app + "/storage/tenants/1/app/uploads/collections/posts"
        let names = try FileManager.default.contentsOfDirectory(atPath: uploads).sorted()
        let original = try Data(contentsOf: URL(fileURLWithPath: uploads + "/" + names[1]))
        try FileManager.default.removeItem(atPath: uploads + "/" + names[0])
        try Data("edited".utf8).write(to: URL(fileURLWithPath: uploads + "/" + names[1]))
        let host = ["Host": "tenant-001.localhost"]
        let login = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"\#(TestServer.adminEmail)","password":"\#(TestServer.password)"}"#, headers: host)
        let token = try #require(login.data?["token"]?.stringValue, "\(login.status) \(String(decoding: login.body, as: UTF8.self))")
        let listed = try #require(try await server.request("GET", "/api/backups", token: token, headers: host).data?.arrayValue)
        #expect(listed.count == 1, "the tenant sees its own snapshots only")
        let id = try #require(listed.first?["id"]?.stringValue)
        let restored = try await server.request(
            "POST", "/api/backups/\(id)/restore", json: #"{"confirm":true,"conflict":"overwrite"}"#, token: token, headers: host)
        #expect(restored.status == 200, "\(String(decoding: restored.body, as: UTF8.self))")
        #expect(restored.data?["files"]?["items"]?.arrayValue?.count == 2)
        #expect(restored.data?["files"]?["root"] == nil, "no server folder in the body")
        #expect(restored.data?["safety_snapshot"]?.stringValue != nil)
        #expect(FileManager.default.fileExists(atPath: uploads + "/" + names[0]), "the deleted file is back")
        #expect(try Data(contentsOf: URL(fileURLWithPath: uploads + "/" + names[1])) == original, "the edited file is replaced (overwrite)")
    }

    @Test func downloadStreamsTheArchiveWithItsChecksum() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let made = try await server.request("POST", "/api/backups", token: token)
        let sha = try #require(made.data?["sha256"]?.stringValue)
        let reply = try await server.request("GET", "/api/backups/latest/archive", token: token)
        #expect(reply.status == 200)
        #expect(reply.header("Content-Type") == "application/zstd")
        #expect(Int(reply.header("Content-Length") ?? "") == reply.body.count)
        #expect(reply.header("ETag") == "\"\(sha)\"")
        #expect(SHA256.hash(data: reply.body).map { String(format: "%02x", $0) }.joined() == sha)
        let cached = try await server.request("GET", "/api/backups/latest/archive", token: token, headers: ["If-None-Match": "\"\(sha)\""])
        #expect(cached.status == 304)
    }

    @Test func planAndRestoreIntoTheServedDatabase() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let made = try await server.request("POST", "/api/backups", token: token)
        let id = try #require(made.data?["id"]?.stringValue)
        let tags = try #require(try server.scalar("SELECT count(*) FROM _velo_tags")?.int64Value)
        try server.sql("DELETE FROM _velo_posts_tags_tags_pivot; DELETE FROM _velo_tags")
        let plan = try await server.request(
            "POST", "/api/backups/\(id)/plan", json: #"{"conflict":"skip","collections":["tags"]}"#, token: token)
        #expect(plan.status == 200)
        #expect(plan.data?["can_proceed"] == .bool(true))
        let insert = plan.data?["tables"]?.arrayValue?.first { $0["table"]?.stringValue == "_velo_tags" }?["insert"]?.intValue
        #expect(insert == Int(tags))
        // No confirm: nothing happens.
        let unconfirmed = try await server.request("POST", "/api/backups/\(id)/restore", json: #"{"collections":["tags"]}"#, token: token)
        #expect(unconfirmed.status == 422)
        #expect(unconfirmed.json?["errors"]?["confirm"] != nil)
        #expect(try server.scalar("SELECT count(*) FROM _velo_tags")?.int64Value == 0)
        let restored = try await server.request(
            "POST", "/api/backups/\(id)/restore", json: #"{"collections":["tags"],"confirm":true}"#, token: token)
        #expect(restored.status == 200, "\(String(decoding: restored.body, as: UTF8.self))")
        #expect(restored.message == "Restore completed successfully.")
        #expect(try server.scalar("SELECT count(*) FROM _velo_tags")?.int64Value == tags)
        #expect(restored.data?["safety_snapshot"]?.stringValue != nil)
        let badBody = try await server.request(
            "POST", "/api/backups/\(id)/plan", json: #"{"conflict":"merge","conflict_for":{"posts":"x"}}"#, token: token)
        #expect(badBody.status == 422)
        #expect(badBody.json?["errors"]?["conflict"] != nil && badBody.json?["errors"]?["conflict_for.posts"] != nil)
    }

    @Test func pruneWithAPolicy() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        for _ in 0..<3 { #expect(try await server.request("POST", "/api/backups", token: token).status == 200) }
        let dry = try await server.request("POST", "/api/backups/prune", json: #"{"policy":{"keep_last":1},"dry_run":true}"#, token: token)
        #expect(dry.status == 200)
        #expect(dry.data?["remove"]?.arrayValue?.count == 2)
        #expect(try await server.request("GET", "/api/backups", token: token).data?.arrayValue?.count == 3)
        let real = try await server.request("POST", "/api/backups/prune", json: #"{"policy":{"keep_last":1}}"#, token: token)
        #expect(real.data?["keep"]?.arrayValue?.count == 1)
        #expect(try await server.request("GET", "/api/backups", token: token).data?.arrayValue?.count == 1)
        let missing = try await server.request("POST", "/api/backups/prune", json: "{}", token: token)
        #expect(missing.status == 422)
        let bad = try await server.request("POST", "/api/backups/prune", json: #"{"policy":{"keep_sometimes":2}}"#, token: token)
        #expect(bad.status == 422)
    }

    @Test func noRepositoryIs422() async throws {
        let server = try await TestServer(repository: false)
        defer { Task { await server.stop() } }
        let token = try await server.login()
        for (method, path) in [("GET", "/api/backups"), ("POST", "/api/backups"), ("GET", "/api/backups/latest")] {
            let reply = try await server.request(method, path, token: token)
            #expect(reply.status == 422, "\(method) \(path)")
            #expect(reply.message?.contains("needs a snapshot repository first") == true, "\(reply.message ?? "")")
            #expect(reply.message?.contains("--") == false, "no command-line flag in an HTTP body")
        }
    }

    /// Two destructive requests at once: the first proceeds, the second is 409 at once; nothing is lost.
    @Test func aSecondDestructiveRequestIs409WhileTheFirstRuns() async throws {
        let held = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        let server = try await TestServer(configure: { configuration in
            configuration.afterClaim = { _ in
                held.continuation.yield()
                var wait = release.stream.makeAsyncIterator()
                _ = await wait.next()
            }
        })
        defer { Task { await server.stop() } }
        let token = try await server.login()
        try server.sql("CREATE TABLE _velo_orphan (id INTEGER PRIMARY KEY); INSERT INTO _velo_orphan VALUES (1), (2)")
        _ = try Backup.run(
            databasePath: server.database, repository: try Repository.open(server.repository!, create: true), options: .init())
        let first = Task { try await server.request("DELETE", "/api/schema/orphans/_velo_orphan", token: token) }
        var started = held.stream.makeAsyncIterator()
        _ = await started.next()
        let second = try await server.request("POST", "/api/backups/latest/restore", json: #"{"confirm":true}"#, token: token)
        let third = try await server.request("POST", "/api/backups", token: token)
        // Asked for progress events, the same 409 comes as JSON, before any event.
        let streamed = try await server.request("POST", "/api/backups", token: token, headers: ["Accept": "text/event-stream"])
        // Reads go on meanwhile.
        let read = try await server.request("GET", "/api/schema/orphans", token: token)
        release.continuation.finish()
        let done = try await first.value
        #expect(read.status == 200)
        #expect(second.status == 409)
        #expect(second.json?["errors"] == .null)
        #expect(third.status == 409)
        #expect(third.message?.contains("drop orphans") == true)
        #expect(streamed.status == 409 && streamed.header("Content-Type") == "application/json")
        #expect(streamed.message == third.message)
        #expect(done.status == 200)
        #expect(try !server.hasTable("_velo_orphan"))
        // The dropped rows are in the snapshot taken first.
        let snapshot = try #require(done.data?["snapshot"]?.stringValue)
        let inspect = try await server.request("GET", "/api/backups/\(snapshot)", token: token)
        #expect(String(decoding: inspect.body, as: UTF8.self).contains("_velo_orphan"))
    }

    /// The server-sent events of a response body: (event name, its JSON), in order.
    static func events(_ body: Data) -> [(name: String, data: JSONValue)] {
        String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n").compactMap { block in
            let lines = block.split(separator: "\n").map(String.init)
            guard let name = lines.first(where: { $0.hasPrefix("event: ") })?.dropFirst(7),
                let data = lines.first(where: { $0.hasPrefix("data: ") })?.dropFirst(6),
                let json = try? JSONParser.parse(Array(data.utf8))
            else { return nil }
            return (String(name), json)
        }
    }

    /// Asked for `text/event-stream`, a backup answers server-sent events: its progress while it runs (rows done
    /// of about how many, and the table), then the body the JSON response would have had; an error the backup
    /// meets comes as an `error` event with its status and one-line message.
    @Test func backupProgressComesAsServerSentEvents() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let sse = ["Accept": "text/event-stream"]
        let reply = try await server.request("POST", "/api/backups", json: #"{"tags":["page"]}"#, token: token, headers: sse)
        #expect(reply.status == 200)
        #expect(reply.header("Content-Type") == "text/event-stream")
        #expect(reply.header("Cache-Control") == "no-store" && reply.header("X-Accel-Buffering") == "no")
        let events = Self.events(reply.body)
        let progress = events.filter { $0.name == "progress" }.map(\.data)
        #expect(!progress.isEmpty)
        for report in progress {
            #expect(report["unit"] == .string("rows") && report["done"]?.intValue != nil && report["total"]?.intValue != nil)
        }
        #expect(progress.allSatisfy { $0["detail"]?.stringValue?.isEmpty == false }, "each names the table: \(progress)")
        #expect(events.map(\.name).filter { $0 != "progress" } == ["result"])
        #expect(events.last?.data["message"] == .string("Backup completed successfully."))
        let id = try #require(events.last?.data["data"]?["id"]?.stringValue)
        let listed = try await server.request("GET", "/api/backups?tag=page", token: token).data?.arrayValue
        #expect(listed?.first?["id"] == .string(id))

        let failed = try await server.request("POST", "/api/backups", json: #"{"collections":["nope"]}"#, token: token, headers: sse)
        #expect(failed.status == 200)
        let last = try #require(Self.events(failed.body).last)
        #expect(last.name == "error")
        #expect(last.data["status"]?.intValue == 422)
        let message = try #require(last.data["message"]?.stringValue)
        #expect(message.contains("no collection named 'nope'") && !message.contains(server.database), "\(message)")
    }
}

extension BackupRouteTests {
    /// A moment of continuous capture over HTTP, as `velo plan --at` and `velo restore --at --yes` give it: the
    /// capture's window, a plan of merging the moment back, a restore only with confirm, and moments outside
    /// the window refused with their one-line reason.
    @Test func aCapturedMomentIsPlannedAndRestoredOverHTTP() async throws {
        let server = try await TestServer(prepare: { try Database(path: $0, mode: .readWrite).execute("PRAGMA journal_mode=WAL") })
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let none = try await server.request("GET", "/api/backups/moments", token: token)
        #expect(none.status == 404 && none.message?.contains("not captured continuously") == true, "\(none.message ?? "")")

        let repository = try Repository.open(try #require(server.repository), create: true)
        var options = Replicator.Options()
        options.compaction = nil
        let replicator = try Replicator(sources: [server.database], repository: repository, options: options)
        try replicator.poll()
        try replicator.storeBatch()
        try await Task.sleep(for: .milliseconds(50))
        let before = PointInTimeError.format(Int64(Date().timeIntervalSince1970 * 1000))
        try await Task.sleep(for: .milliseconds(50))
        let posts = try #require(try server.scalar("SELECT count(*) FROM _velo_posts")?.int64Value)
        try server.sql("DELETE FROM _velo_posts WHERE rowid IN (SELECT rowid FROM _velo_posts ORDER BY rowid LIMIT 5)")
        try replicator.poll()
        try replicator.storeBatch()

        let moments = try await server.request("GET", "/api/backups/moments", token: token)
        #expect(moments.status == 200 && moments.data?["windows"]?.arrayValue?.count == 1 && moments.data?["gaps"]?.intValue == 0)
        let plan = try await server.request("POST", "/api/backups/moments/plan", json: #"{"at":"\#(before)"}"#, token: token)
        #expect(plan.status == 200, "\(plan.message ?? "")")
        #expect(plan.data?["moment"]?["at"]?.stringValue == before)
        let table = plan.data?["plan"]?["tables"]?.arrayValue?.first { $0["table"]?.stringValue == "_velo_posts" }
        #expect(table?["insert"]?.intValue == 5)

        let unconfirmed = try await server.request("POST", "/api/backups/moments/restore", json: #"{"at":"\#(before)"}"#, token: token)
        #expect(unconfirmed.status == 422)
        let restored = try await server.request(
            "POST", "/api/backups/moments/restore", json: #"{"at":"\#(before)","confirm":true}"#, token: token)
        #expect(restored.status == 200, "\(restored.message ?? "")")
        #expect(try server.scalar("SELECT count(*) FROM _velo_posts")?.int64Value == posts)

        let early = try await server.request("POST", "/api/backups/moments/plan", json: #"{"at":"2001-01-01T00:00:00Z"}"#, token: token)
        #expect(early.status == 422 && early.message?.contains("before continuous capture") == true, "\(early.message ?? "")")
        let bad = try await server.request("POST", "/api/backups/moments/plan", json: #"{"at":"soon"}"#, token: token)
        #expect(bad.status == 422 && bad.json?["errors"]?["at"] != nil)
    }
}
