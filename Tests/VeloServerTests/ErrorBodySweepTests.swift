import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// Every error route of `velo serve`, driven into its failures (bad bodies, unknown names, a damaged archive, a
/// missing repository, a database of an older Veloquent whose tables lack columns velo writes): no error body
/// holds a server path, SQL text or a command-line flag.
@Suite struct ErrorBodySweepTests {
    /// What must never reach a client.
    static func leaks(in reply: TestServer.Reply, server: TestServer) -> [String] {
        let body = String(decoding: reply.body, as: UTF8.self)
        var found: [String] = []
        if body.contains(server.directory) { found.append("the server's folder") }
        if body.contains(NSTemporaryDirectory()) || body.contains("\\/tmp\\/") || body.contains("/tmp/") { found.append("a path") }
        for sql in ["[in: ", "INSERT INTO", "SELECT ", "UPDATE \\\"", "CREATE TABLE"] where body.contains(sql) {
            found.append("SQL (\(sql))")
        }
        if body.range(of: #"(^|[\s"(])--[a-z]"#, options: .regularExpression) != nil { found.append("a command-line flag") }
        return found
    }

    func sweep(_ server: TestServer, _ requests: [(String, String, String?)], token: String?) async throws -> Int {
        var errors = 0
        for (method, path, body) in requests {
            let reply = try await server.request(method, path, json: body, token: token)
            guard reply.status >= 400 else { continue }
            errors += 1
            let leaks = Self.leaks(in: reply, server: server)
            #expect(leaks.isEmpty, "\(method) \(path) → \(reply.status): \(leaks): \(String(decoding: reply.body, as: UTF8.self))")
        }
        return errors
    }

    @Test func noErrorBodyHoldsAPathSQLOrAFlag() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        #expect(try await server.request("POST", "/api/backups", token: token).status == 200)
        let id = try #require(try await server.request("GET", "/api/backups", token: token).data?.arrayValue?.first?["id"]?.stringValue)
        // An orphan table to refuse dropping a non-orphan beside it, a table no collection owns.
        try server.sql("CREATE TABLE \"_velo_stray\" (id TEXT)")
        var errors = try await sweep(
            server,
            [
                ("POST", "/api/backups", #"{"tags":"x","level":40}"#),
                ("POST", "/api/backups", #"{"collections":["nope"]}"#),
                ("GET", "/api/backups/ffffffffffff", nil),
                ("POST", "/api/backups/ffffffffffff/verify", nil),
                ("POST", "/api/backups/\(id)/plan", #"{"conflict":"sideways"}"#),
                ("POST", "/api/backups/\(id)/plan", #"{"system_tables":["nope"]}"#),
                ("POST", "/api/backups/\(id)/restore", #"{}"#),
                ("POST", "/api/backups/\(id)/restore", #"{"confirm":true,"system_tables":["nope"]}"#),
                ("POST", "/api/backups/prune", #"{"policy":{"keep_dayly":7}}"#),
                ("POST", "/api/backups/prune", #"{"policy":"x"}"#),
                ("POST", "/api/collections/nope/recover", nil),
                ("DELETE", "/api/schema/orphans/_velo_posts", nil),
                ("DELETE", "/api/schema/orphans/nope", nil),
                ("POST", "/api/schema/transfer/export", #"{"collections":["nope"]}"#),
                ("POST", "/api/schema/transfer/export", #"{"system_tables":["cache"]}"#),
                ("POST", "/api/schema/transfer/import", #"{"payload":{"collections":[{"name":"x"}]}}"#),
                ("POST", "/api/schema/transfer/import", #"{"payload":"x"}"#),
                ("POST", "/api/schema/transfer/import", "not json"),
                ("POST", "/api/collections/superusers/auth/login", #"{"identity":"nobody@x.test","password":"x"}"#),
                ("GET", "/api/nowhere", nil),
            ], token: token)
        // A damaged archive: verify reports it, plan and restore refuse it, the download fails.
        let repo = try Repository.open(try #require(server.repository))
        let archive = (repo.root as NSString).appendingPathComponent(try #require(repo.catalog.entry(id)).archive)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: archive))
        try handle.seek(toOffset: 200)
        try handle.write(contentsOf: Data(repeating: 0x55, count: 64))
        try handle.close()
        errors += try await sweep(
            server,
            [
                ("POST", "/api/backups/\(id)/plan", #"{}"#),
                ("POST", "/api/backups/\(id)/restore", #"{"confirm":true}"#),
                ("GET", "/api/backups/\(id)/archive", nil),
            ], token: token)
        try FileManager.default.removeItem(atPath: archive)
        errors += try await sweep(
            server,
            [("POST", "/api/backups/\(id)/plan", #"{}"#), ("GET", "/api/backups/\(id)", nil), ("GET", "/api/backups/\(id)/archive", nil)],
            token: token)
        #expect(errors >= 20, "the sweep met \(errors) errors")
    }

    /// Every route answered with success: no body holds a server path either (results carry snapshot ids, table
    /// and collection names, and archives as paths inside the repository).
    @Test func noSuccessBodyHoldsAServerPath() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        #expect(try await server.request("POST", "/api/backups", token: token).status == 200)
        let id = try #require(try await server.request("GET", "/api/backups", token: token).data?.arrayValue?.first?["id"]?.stringValue)
        try server.sql("CREATE TABLE \"_velo_stray\" (id TEXT); DROP INDEX _velo_posts_author_index")
        let payload = try await server.request(
            "POST", "/api/schema/transfer/export", json: #"{"collections":["posts"]}"#, token: token)
        let payloadText = try #require(payload.data.map { JSONWriter.string($0) })
        var answered = 0
        for (method, path, body) in [
            ("POST", "/api/backups", #"{"tags":["sweep"]}"#), ("GET", "/api/backups", nil), ("GET", "/api/backups/\(id)", nil),
            ("POST", "/api/backups/\(id)/verify", nil), ("POST", "/api/backups/verify", nil),
            ("POST", "/api/backups/\(id)/plan", #"{}"#), ("POST", "/api/backups/\(id)/restore", #"{"confirm":true}"#),
            ("POST", "/api/backups/prune", #"{"policy":{"keep_last":5},"dry_run":true}"#),
            ("GET", "/api/schema/corrupt", nil), ("POST", "/api/collections/posts/recover", nil), ("GET", "/api/schema/orphans", nil),
            ("DELETE", "/api/schema/orphans/_velo_stray", nil), ("GET", "/api/schema/transfer/options", nil),
            ("POST", "/api/schema/transfer/import", #"{"payload":\#(payloadText),"conflict":"overwrite"}"#),
        ] {
            let reply = try await server.request(method, path, json: body, token: token)
            #expect(reply.status == 200, "\(method) \(path) → \(reply.status): \(String(decoding: reply.body, as: UTF8.self))")
            if reply.status == 200 { answered += 1 }
            let leaks = Self.leaks(in: reply, server: server)
            #expect(
                leaks.isEmpty, "\(method) \(path) → \(reply.status): \(leaks): \(String(decoding: reply.body, as: UTF8.self).prefix(2000))")
        }
        #expect(answered == 14)
    }

    /// Without a repository, and on a database whose `auth_tokens` lacks the columns velo writes (as an older
    /// Veloquent's): the SQLite error a login meets is named without its SQL or the file's folder.
    @Test func noRepositoryAndAnOlderSchemaLeakNothing() async throws {
        let server = try await TestServer(repository: false)
        defer { Task { await server.stop() } }
        let token = try await server.login()
        var errors = try await sweep(
            server,
            [
                ("GET", "/api/backups", nil), ("POST", "/api/backups", nil), ("POST", "/api/collections/posts/recover", nil),
                ("DELETE", "/api/schema/orphans", nil),
            ], token: token)
        try server.sql("ALTER TABLE auth_tokens DROP COLUMN ip_address")
        errors += try await sweep(
            server,
            [
                (
                    "POST", "/api/collections/superusers/auth/login",
                    #"{"identity":"\#(TestServer.adminEmail)","password":"\#(TestServer.password)"}"#
                )
            ],
            token: nil)
        #expect(errors >= 4)
    }

    /// A landlord's server (a tenant may not prune the shared repository) with a small body limit (413).
    @Test func aLandlordsRefusalsAndATooLargeBodyLeakNothing() async throws {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("velo-sweep-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let landlord = (directory as NSString).appendingPathComponent("landlord.sqlite")
        let server = try await TestServer(
            configure: {
                $0.databases = .landlord(landlord)
                $0.maxBodyBytes = 64
            },
            prepare: { tenant in
                let db = try Database(path: landlord, mode: .create)
                try db.execute("CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT, domain TEXT UNIQUE, database TEXT)")
                try db.prepare("INSERT INTO tenants (name, domain, database) VALUES ('Acme', 'acme.localhost', ?)").run([.text(tenant)])
            })
        defer { Task { await server.stop() } }
        let host = ["Host": "acme.localhost"]
        let login = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"\#(TestServer.adminEmail)","password":"\#(TestServer.password)"}"#, headers: host)
        let token = try #require(login.data?["token"]?.stringValue)
        var errors = 0
        for (method, path, body) in [
            ("POST", "/api/backups/prune", #"{"policy":{"keep_last":1}}"#),
            ("POST", "/api/schema/transfer/import", String(repeating: " ", count: 200) + "{}"),
        ] {
            let reply = try await server.request(method, path, json: body, token: token, headers: host)
            #expect(reply.status >= 400, "\(method) \(path)")
            errors += 1
            let leaks = Self.leaks(in: reply, server: server)
            #expect(leaks.isEmpty, "\(method) \(path) → \(reply.status): \(leaks): \(String(decoding: reply.body, as: UTF8.self))")
        }
        #expect(errors == 2)
    }
}
