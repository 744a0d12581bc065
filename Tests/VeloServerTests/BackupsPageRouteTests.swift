import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// The backups page's files and the status route it reads (the browser's own test is BackupsPageBrowserTests).
@Suite struct BackupsPageRouteTests {
    @Test func thePageIsServedWithItsPolicyAndSlashLeadsToIt() async throws {
        let server = try await TestServer(configure: { $0.apiPrefix = "v1/api" })
        defer { Task { await server.stop() } }
        let root = try await server.request("GET", "/")
        #expect(root.status == 302 || root.status == 200, "URLSession follows the redirect: \(root.status)")
        let page = try await server.request("GET", "/_/backups")
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        let html = String(decoding: page.body, as: UTF8.self)
        #expect(html.contains(#"<meta name="velo-api" content="/v1/api">"#), "the API prefix is in the page")
        #expect(html.contains(#"<script src="/_/backups/page.js" defer></script>"#) && !html.contains("<script>"), "no inline script")
        let policy = try #require(page.header("Content-Security-Policy"))
        #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe"))
        #expect(page.header("X-Content-Type-Options") == "nosniff")
        let script = try await server.request("GET", "/_/backups/page.js")
        #expect(script.status == 200 && script.header("Content-Type") == "text/javascript; charset=utf-8")
        #expect(String(decoding: script.body, as: UTF8.self) == BackupsPage.script)
        let style = try await server.request("GET", "/_/backups/page.css")
        #expect(style.status == 200 && style.header("Content-Type") == "text/css; charset=utf-8")
        // The download worker (a service worker: the policy lets the page start one of its own and no other), and
        // a download address no worker answered: 204, so the page stays where it was.
        #expect(policy.contains("worker-src 'self'"))
        let worker = try await server.request("GET", "/_/backups/download-worker.js")
        #expect(worker.status == 200 && worker.header("Content-Type") == "text/javascript; charset=utf-8")
        #expect(String(decoding: worker.body, as: UTF8.self) == BackupsPage.downloadWorker)
        #expect(worker.header("Content-Security-Policy") == policy)
        let unanswered = try await server.request("GET", "/_/backups/download/0123456789abcdef0123")
        #expect(unanswered.status == 204 && unanswered.body.isEmpty)
        #expect(try await server.request("GET", "/_/backups/other.js").status == 404)
    }

    @Test func statusIsVeloStatusOfTheSourcesWithWhatARestoreAsksToBeTyped() async throws {
        let policy = JSONValue.object([("keep_last", .int(3)), ("keep_daily", .int(7))])
        let server = try await TestServer(configure: { $0.retention = policy })
        defer { Task { await server.stop() } }
        #expect(try await server.request("GET", "/api/backups/status").status == 401)
        let token = try await server.login()
        let empty = try #require(try await server.request("GET", "/api/backups/status", token: token).data)
        #expect(empty["sources"] == .array([]))
        #expect(empty["name"] == .string("tenant.sqlite") && empty["served"] == .string("tenant.sqlite"))
        _ = try await server.request("POST", "/api/backups", token: token)
        let status = try #require(try await server.request("GET", "/api/backups/status", token: token).data)
        let source = try #require(status["sources"]?.arrayValue?.first)
        #expect(source["source"] == .string("tenant.sqlite"), "a file's name, not the server's path")
        #expect(source["state"] == .string("warning") && source["reasons"] == .array([.string("never verified")]))
        #expect(status["retention"] == policy)
        #expect(status["encrypted"] == .bool(false))
        #expect(status["repository"] == nil, "no server path")
        #expect(!JSONWriter.string(status).contains(server.directory), "no server path anywhere")
        // A stale source with a shorter max_age; a span that is not one is Laravel's 422.
        try await Task.sleep(for: .seconds(2))
        let stale = try #require(try await server.request("GET", "/api/backups/status?max_age=1s", token: token).data)
        #expect(stale["state"] == .string("critical"), "\(stale)")
        let bad = try await server.request("GET", "/api/backups/status?max_age=soon&max_verify_age=0s", token: token)
        #expect(bad.status == 422)
        #expect(bad.json?["errors"]?["max_age"] != nil && bad.json?["errors"]?["max_verify_age"] != nil)
    }

    /// The page's download: an incremental snapshot as one self-contained format-1 archive, whose audit without
    /// the repository finds every entry the catalog records.
    @Test func exportDownloadsASelfContainedArchive() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        _ = try await server.request("POST", "/api/backups", token: token)
        let reply = try await server.request("GET", "/api/backups/latest/export", token: token)
        #expect(reply.status == 200)
        #expect(reply.header("Content-Type") == "application/zstd")
        let repository = try Repository.open(server.repository!)
        let entry = try #require(try repository.catalog.entries().last)
        #expect(reply.header("Content-Disposition") == "attachment; filename=\"velo-\(SnapshotID.short(entry.id)).tar.zst\"")
        #expect(try repository.catalog.detail(entry.id).header.version == 2, "the stored archive is incremental")
        let file = (server.directory as NSString).appendingPathComponent("downloaded.tar.zst")
        try reply.body.write(to: URL(fileURLWithPath: file))
        let audit = try ArchiveAudit.run(path: file)
        #expect(audit.problems.isEmpty, "\(audit.problems)")
        #expect(audit.header?.version == 1)
        #expect(
            audit.manifest?.entries.filter { $0.path != ArchiveFormat.headerPath }
                == (try repository.catalog.detail(entry.id).manifest.entries.filter { $0.path != ArchiveFormat.headerPath }))
        #expect(try await server.request("GET", "/api/backups/ffffffff/export", token: token).status == 404)
    }

    /// With `--landlord`, a tenant's superuser sees only its own database among the repository's sources.
    @Test func aTenantSeesOnlyItsOwnSource() async throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let landlord = (directory as NSString).appendingPathComponent("landlord.sqlite")
        let other = (directory as NSString).appendingPathComponent("other.sqlite")
        try DemoDatabase(options: .init(posts: 20, seed: 9)).write(to: other)
        let server = try await TestServer(
            configure: { $0.databases = .landlord(landlord) },
            prepare: { tenant in try Self.writeLandlord(landlord, tenants: [("Acme", "acme.localhost", tenant)]) })
        defer { Task { await server.stop() } }
        let repository = try Repository.open(server.repository!, create: true)
        _ = try Backup.run(databasePath: other, repository: repository, options: Backup.Options())
        let host = ["Host": "acme.localhost"]
        let login = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"admin@acme.test","password":"\#(TestServer.password)"}"#, headers: host)
        let token = try #require(login.data?["token"]?.stringValue)
        _ = try await server.request("POST", "/api/backups", token: token, headers: host)
        let status = try #require(try await server.request("GET", "/api/backups/status", token: token, headers: host).data)
        #expect(status["sources"]?.arrayValue?.map { $0["source"] } == [.string("tenant.sqlite")], "\(status)")
        #expect(status["name"] == .string("acme.localhost"), "a tenant confirms a restore with its domain")
    }

    /// `--operator`: the superusers of the tenant the server's operator names see every tenant's status and
    /// snapshots, and may prune; every other tenant still sees only its own, and may not prune.
    @Test func anOperatorTenantSeesEveryTenantAndTheOthersOnlyTheirOwn() async throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let landlord = (directory as NSString).appendingPathComponent("landlord.sqlite")
        let operatorDatabase = (directory as NSString).appendingPathComponent("ops.sqlite")
        try DemoDatabase(options: .init(posts: 20, seed: 9)).write(to: operatorDatabase)
        try Database(path: operatorDatabase, mode: .readWrite).prepare("UPDATE superusers SET password = ?").run([
            .text(TestServer.passwordHash)
        ])
        let server = try await TestServer(
            configure: {
                $0.databases = .landlord(landlord)
                $0.setOperators(["Ops.localhost:8090"])  // as the Host is compared: no port, any case
            },
            prepare: { tenant in
                try Self.writeLandlord(landlord, tenants: [("Acme", "acme.localhost", tenant), ("Ops", "ops.localhost", operatorDatabase)])
            })
        defer { Task { await server.stop() } }
        // A mistyped domain is found at start (`velo serve` warns about it).
        var mistyped = ServerConfiguration(databases: .landlord(landlord))
        mistyped.setOperators(["ops.localhost", "opps.localhost"])
        #expect(try mistyped.operatorsWithoutTenant() == ["opps.localhost"])
        var tokens: [String: String] = [:]
        for host in ["acme.localhost", "ops.localhost"] {
            let login = try await server.request(
                "POST", "/api/collections/superusers/auth/login",
                json: #"{"identity":"admin@acme.test","password":"\#(TestServer.password)"}"#, headers: ["Host": host])
            tokens[host] = try #require(login.data?["token"]?.stringValue, "\(host): \(login.status)")
            #expect(try await server.request("POST", "/api/backups", token: tokens[host], headers: ["Host": host]).status == 200)
        }
        func get(_ path: String, as host: String) async throws -> JSONValue? {
            try await server.request("GET", path, token: tokens[host], headers: ["Host": host]).data
        }
        func sources(as host: String) async throws -> [String] {
            (try await get("/api/backups/status", as: host)?["sources"]?.arrayValue ?? []).compactMap { $0["source"]?.stringValue }.sorted()
        }
        #expect(try await sources(as: "acme.localhost") == ["tenant.sqlite"])
        #expect(try await sources(as: "ops.localhost") == ["ops.sqlite", "tenant.sqlite"])
        #expect(try await get("/api/backups", as: "acme.localhost")?.arrayValue?.count == 1)
        #expect(try await get("/api/backups", as: "ops.localhost")?.arrayValue?.count == 2)
        // Which tenant each source is, for the sources shown only.
        let ops = #"{"name":"Ops","domain":"ops.localhost"}"#
        let acme = #"{"name":"Acme","domain":"acme.localhost"}"#
        #expect(
            try await get("/api/backups/status", as: "ops.localhost")?["tenants"]
                == JSONParser.parse(#"{"ops.sqlite":\#(ops),"tenant.sqlite":\#(acme)}"#))
        #expect(try await get("/api/backups/status", as: "acme.localhost")?["tenants"] == JSONParser.parse(#"{"tenant.sqlite":\#(acme)}"#))
        // A restore still asks for the signed-in tenant's own name.
        #expect(try await get("/api/backups/status", as: "ops.localhost")?["name"] == .string("ops.localhost"))

        let prune = #"{"policy":{"keep_last":1},"dry_run":true}"#
        let refused = try await server.request(
            "POST", "/api/backups/prune", json: prune, token: tokens["acme.localhost"], headers: ["Host": "acme.localhost"])
        #expect(
            refused.status == 422 && refused.message?.contains("one tenant cannot prune it") == true,
            "\(refused.status) \(refused.message ?? "")")
        let dryRun = try await server.request(
            "POST", "/api/backups/prune", json: prune, token: tokens["ops.localhost"], headers: ["Host": "ops.localhost"])
        #expect(dryRun.status == 200, "\(dryRun.status) \(dryRun.message ?? "")")
        #expect(try Repository.open(server.repository!).catalog.scan().entries.count == 2, "a dry run removes nothing")
    }

    /// A new folder of this test's own under the temporary folder.
    static func folder() throws -> String {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("velo-page-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// A landlord database whose `tenants` table is the one Veloquent's landlord migration makes, listing these.
    static func writeLandlord(_ path: String, tenants: [(name: String, domain: String, database: String)]) throws {
        let db = try Database(path: path, mode: .create)
        try db.execute(
            #"CREATE TABLE "tenants" ("id" integer primary key autoincrement not null, "name" varchar not null, "domain" varchar not null, "database" varchar, "created_at" datetime, "updated_at" datetime); CREATE UNIQUE INDEX "tenants_domain_unique" on "tenants" ("domain"); CREATE UNIQUE INDEX "tenants_database_unique" on "tenants" ("database")"#
        )
        for tenant in tenants {
            try db.prepare("INSERT INTO tenants (name, domain, database) VALUES (?, ?, ?)").run([
                .text(tenant.name), .text(tenant.domain), .text(tenant.database),
            ])
        }
    }
}
