import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// Login, bearer tokens as Veloquent writes and reads them, 401/403 on every protected route, the rate limit.
@Suite struct AuthTests {
    /// Every protected route, with a body that would otherwise be accepted.
    static let protectedRoutes: [(String, String)] = [
        ("GET", "/api/schema/corrupt"), ("POST", "/api/collections/posts/recover"), ("GET", "/api/schema/orphans"),
        ("DELETE", "/api/schema/orphans"), ("DELETE", "/api/schema/orphans/_velo_x"), ("GET", "/api/schema/transfer/options"),
        ("POST", "/api/schema/transfer/export"), ("POST", "/api/schema/transfer/import"), ("GET", "/api/backups"),
        ("POST", "/api/backups"), ("POST", "/api/backups/verify"), ("POST", "/api/backups/prune"), ("GET", "/api/backups/latest"),
        ("POST", "/api/backups/latest/verify"), ("POST", "/api/backups/latest/plan"), ("POST", "/api/backups/latest/restore"),
        ("GET", "/api/backups/latest/archive"), ("GET", "/api/backups/latest/export"), ("GET", "/api/backups/status"),
        ("GET", "/api/backups/moments"), ("POST", "/api/backups/moments/plan"), ("POST", "/api/backups/moments/restore"),
        ("GET", "/api/openapi.json"),
    ]

    /// The routes of any signed-in record (Veloquent's `auth:api` alone): a superuser's answered, another
    /// collection's token 401 "User not authenticated.".
    static let signedInRoutes: [(String, String)] = [
        ("GET", "/api/collections/superusers/auth/me"), ("DELETE", "/api/collections/superusers/auth/logout"),
        ("DELETE", "/api/collections/superusers/auth/logout-all"),
    ]

    /// The routes that need no token.
    static let openRoutes: [(String, String)] = [
        ("POST", "/api/collections/superusers/auth/login"), ("POST", "/api/onboarding/initialized"),
    ]

    @Test func loginIssuesATokenStoredAsVeloquentStoresIt() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        // The expiry is checked against the clock on both sides of the request, never against a tolerance: under
        // the whole suite an async test can wait minutes for a thread between two of its lines.
        let sent = Int64(Date().timeIntervalSince1970)
        let reply = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"admin@acme.test","password":"\#(TestServer.password)"}"#)
        let answered = Int64(Date().timeIntervalSince1970)
        #expect(reply.status == 200)
        #expect(reply.message == "Success")
        let token = try #require(reply.data?["token"]?.stringValue)
        #expect(token.count == 64 && token.allSatisfy(\.isHexDigit))
        #expect(reply.data?["expires_in"]?.intValue == 2_592_000)
        #expect(reply.data?["collection_name"]?.stringValue == "superusers")
        // Only the hash is stored, with the record, the collection and an expiry 30 days out.
        let db = try Database(path: server.database, mode: .readOnly)
        let row = try #require(
            try db.rows(
                "SELECT collection_name, record_id, expires_at, revoked_at, token_hash FROM auth_tokens WHERE token_hash = ?",
                [.text(AuthTokens.hash(token))]
            ).first)
        #expect(row[0].stringValue == "superusers")
        #expect(row[1].stringValue == (try db.scalar("SELECT id FROM superusers WHERE email = 'admin@acme.test'")?.stringValue))
        let expires = try #require(AuthTokens.parseLaravel(row[2].stringValue ?? ""))
        #expect((sent + 2_592_000...answered + 2_592_000).contains(expires), "sent \(sent), answered \(answered)")
        #expect(row[3] == .null)
        #expect(try db.scalar("SELECT count(*) FROM auth_tokens WHERE token_hash = ?", [.text(token)])?.int64Value == 0)
        // The token opens the protected routes.
        #expect(try await server.request("GET", "/api/schema/orphans", token: token).status == 200)
    }

    @Test func wrongPasswordIssuesNoToken() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let before = try server.scalar("SELECT count(*) FROM auth_tokens")?.int64Value
        for body in [
            #"{"identity":"admin@acme.test","password":"wrong"}"#, #"{"identity":"nobody@acme.test","password":"\#(TestServer.password)"}"#,
        ] {
            let reply = try await server.request("POST", "/api/collections/superusers/auth/login", json: body)
            #expect(reply.status == 401)
            #expect(reply.message == "Invalid credentials.")
            #expect(reply.data == nil)
        }
        #expect(try server.scalar("SELECT count(*) FROM auth_tokens")?.int64Value == before)
    }

    @Test func loginValidatesItsBody() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let reply = try await server.request("POST", "/api/collections/superusers/auth/login", json: #"{"password": 5}"#)
        #expect(reply.status == 422)
        #expect(reply.message == "The identity field is required. (and 1 more error)")
        #expect(reply.json?["errors"]?["identity"]?.arrayValue?.first?.stringValue == "The identity field is required.")
        #expect(reply.json?["errors"]?["password"]?.arrayValue?.first?.stringValue == "The password field must be a string.")
        #expect(try await server.request("POST", "/api/collections/superusers/auth/login", json: "{oops").status == 400)
    }

    @Test func failedLoginsAreRateLimitedPerClient() async throws {
        // A window far longer than the test: under the whole suite minutes can pass between two requests.
        let server = try await TestServer(configure: {
            $0.loginBurst = 3
            $0.loginWindow = 3_600
        })
        defer { Task { await server.stop() } }
        for _ in 0..<3 {
            let reply = try await server.request(
                "POST", "/api/collections/superusers/auth/login", json: #"{"identity":"admin@acme.test","password":"guess"}"#)
            #expect(reply.status == 401)
        }
        let limited = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"admin@acme.test","password":"\#(TestServer.password)"}"#)
        #expect(limited.status == 429)
        #expect(limited.message == "Too Many Attempts.")
        #expect(Int(limited.header("Retry-After") ?? "") ?? 0 > 0)
    }

    @Test func atMostThreeActiveTokensPerSuperuser() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        var tokens: [String] = []
        for _ in 0..<4 { tokens.append(try await server.login()) }
        #expect(try await server.request("GET", "/api/schema/orphans", token: tokens[0]).status == 401)
        for token in tokens.dropFirst() { #expect(try await server.request("GET", "/api/schema/orphans", token: token).status == 200) }
        #expect(
            try server.scalar(
                "SELECT count(*) FROM auth_tokens WHERE record_id = (SELECT id FROM superusers WHERE email = 'admin@acme.test') AND revoked_at IS NULL AND expires_at > datetime('now')"
            )?.int64Value == 3)
    }

    @Test func aTokenVeloquentWroteAuthenticatesExpiredAndRevokedOnesDoNot() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let valid = try server.veloquentToken()
        #expect(try await server.request("GET", "/api/schema/corrupt", token: valid).status == 200)
        let expired = try server.veloquentToken(expires: Int64(Date().timeIntervalSince1970) - 5)
        let revoked = try server.veloquentToken(revoked: true)
        for token in [expired, revoked, String(repeating: "0", count: 64), "not-a-token"] {
            let reply = try await server.request("GET", "/api/schema/corrupt", token: token)
            #expect(reply.status == 401)
            #expect(reply.message == "Unauthenticated.")
        }
        // Veloquent's fallback: the token as a query parameter.
        #expect(try await server.request("GET", "/api/schema/corrupt?token=\(valid)").status == 200)
    }

    @Test func everyProtectedRouteIs401WithoutAToken403ForAnotherCollection() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let user = try server.veloquentToken(collection: "users")
        for (method, path) in Self.protectedRoutes {
            let anonymous = try await server.request(method, path, json: "{}")
            #expect(anonymous.status == 401, "\(method) \(path)")
            #expect(anonymous.message == "Unauthenticated.", "\(method) \(path)")
            let other = try await server.request(method, path, json: "{}", token: user)
            #expect(other.status == 403, "\(method) \(path)")
            #expect(other.message == "Forbidden", "\(method) \(path)")
        }
        for (method, path) in Self.signedInRoutes {
            let anonymous = try await server.request(method, path)
            #expect(anonymous.status == 401 && anonymous.message == "Unauthenticated.", "\(method) \(path)")
            let other = try await server.request(method, path, token: user)
            #expect(other.status == 401 && other.message == "User not authenticated.", "\(method) \(path)")
        }
    }

    @Test func aLandlordPicksTheTenantByHost() async throws {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "velo-landlord-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let landlord = (directory as NSString).appendingPathComponent("landlord.sqlite")
        var tenantPath = ""
        let server = try await TestServer(
            configure: { $0.databases = .landlord(landlord) },
            prepare: { tenant in
                tenantPath = tenant
                let db = try Database(path: landlord, mode: .create)
                try db.execute("CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT, domain TEXT UNIQUE, database TEXT)")
                try db.prepare("INSERT INTO tenants (name, domain, database) VALUES ('Acme', 'acme.localhost', ?)").run([.text(tenant)])
            })
        defer { Task { await server.stop() } }
        #expect(!tenantPath.isEmpty)
        let unknown = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"admin@acme.test","password":"\#(TestServer.password)"}"#)
        #expect(unknown.status == 404)
        #expect(unknown.message == "Tenant not found")
        let known = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"admin@acme.test","password":"\#(TestServer.password)"}"#,
            headers: ["Host": "acme.localhost:\(server.port)"])
        #expect(known.status == 200)
        let token = try #require(known.data?["token"]?.stringValue)
        #expect(try await server.request("GET", "/api/schema/orphans", token: token, headers: ["Host": "acme.localhost"]).status == 200)
        // The tenant's token means nothing under another host.
        #expect(try await server.request("GET", "/api/schema/orphans", token: token).status == 404)
        #expect(TenantResolver.hostName("ACME.localhost:8090") == "acme.localhost")
        #expect(TenantResolver.hostName("[::1]:80") == "::1")
        let resolver = TenantResolver(databases: .landlord(landlord), busyTimeout: .seconds(1))
        #expect(try resolver.resolve(host: "acme.localhost:1234").databasePath == tenantPath)
        #expect(throws: APIError.self) { try resolver.resolve(host: "other.localhost") }
    }

    /// Once SIGTERM has arrived the server finishes what it began but takes nothing new: 503 in the envelope.
    @Test func aStoppingServerRefusesNewRequests() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        #expect(server.shutdown.beginStopping())
        #expect(!server.shutdown.beginStopping(), "only the first signal starts the shutdown")
        let reply = try await server.request("GET", "/api/schema/orphans", token: token)
        #expect(reply.status == 503 && reply.message == "The server is shutting down; try again shortly.")
        #expect(reply.header("Retry-After") == "5")
        #expect(server.shutdown.requestsInFlight == 0)
    }
}
