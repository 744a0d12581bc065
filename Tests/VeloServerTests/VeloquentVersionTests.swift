import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// The schema versions of Veloquent velo meets (issue 29): its tenant migrations change what velo reads and
/// writes only at `2026_06_11_202435_add_fingerprint_and_revocation_to_auth_tokens_table` (veloquent/core 2.8:
/// token revocation and the login's metadata); no system table was added since the oldest schema velo claims
/// (2.0, `2026_04_28_133148_create_tenant_settings`). One database per state, made by velo's demo code at that
/// migration, and the real tenant database of an older Veloquent (`../shared/fixtures`), each served by
/// `velo serve`: every route answers as that Veloquent does, never with an SQL error.
@Suite struct VeloquentVersionTests {
    /// The states: the oldest velo claims, the last before the auth_tokens migration, and the current one.
    static let states: [String?] = [
        Migrations.oldestSupported, "2026_06_02_190000_create_ai_settings_and_agents_collection", nil,
    ]

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures/veloquent/tenant_test.sqlite").path

    @Test(arguments: states)
    func everyRouteAnswersAsThatVeloquent(_ migration: String?) async throws {
        let server = try await TestServer(veloquentMigration: migration)
        defer { Task { await server.stop() } }
        try await Self.exercise(server, email: TestServer.adminEmail, revocation: migration == nil)
    }

    /// A tenant database an older Veloquent made (before the auth_tokens migration), with no superuser yet: the
    /// admin UI's onboarding question says so; once Veloquent's onboarding has made one, every route works.
    @Test func theRealDatabaseOfAnOlderVeloquent() async throws {
        guard FileManager.default.fileExists(atPath: Self.fixture) else {
            print("skipped: \(Self.fixture) is absent (the shared fixtures are not checked out beside the project)")
            return
        }
        let server = try await TestServer(source: Self.fixture)
        defer { Task { await server.stop() } }
        let initialized = try await server.request("POST", "/api/onboarding/initialized")
        #expect(
            initialized.status == 200 && initialized.data == .bool(false),
            "\(initialized.status) \(String(decoding: initialized.body, as: UTF8.self))")
        // What `POST /api/onboarding/superuser` stores.
        try server.sql(
            """
            INSERT INTO superusers (id, name, email, password, created_at, updated_at)
            VALUES ('01JZ0000000000000000000000', 'Admin', 'owner@example.test', '\(TestServer.passwordHash)', '2026-06-01 10:00:00', '2026-06-01 10:00:00')
            """)
        try await Self.exercise(server, email: "owner@example.test", revocation: false)
    }

    static func exercise(_ server: TestServer, email: String, revocation: Bool) async throws {
        let label = revocation ? "current schema" : "before the auth_tokens migration"
        #expect(try await server.request("POST", "/api/onboarding/initialized").data == .bool(true), "\(label)")
        let token = try await server.login(as: email)
        func count(_ condition: String) throws -> Int64 {
            try server.scalar("SELECT count(*) FROM auth_tokens WHERE \(condition)")?.int64Value ?? -1
        }
        // The login stored as that Veloquent stores one.
        let hash = AuthTokens.hash(token)
        #expect(try count("token_hash = '\(hash)'") == 1, "\(label)")
        if revocation {
            #expect(try count("token_hash = '\(hash)' AND fingerprint IS NOT NULL AND length(fingerprint) = 64") == 1, "\(label)")
        }
        let me = try await server.request("GET", "/api/collections/superusers/auth/me", token: token)
        #expect(
            me.status == 200 && me.data?["email"] == .string(email), "\(label): \(me.status) \(String(decoding: me.body, as: UTF8.self))")
        #expect(me.data?["password"] == nil && me.data?["collection_name"] == .string("superusers"), "\(label)")
        #expect(me.data?["created_at"]?.stringValue?.hasSuffix(".000000Z") == true, "\(label): \(me.data?["created_at"] ?? .null)")
        // A token Veloquent wrote works here, and this one works there (same table, same hash).
        let theirs = try server.veloquentToken(record: try server.scalar("SELECT id FROM superusers WHERE email = '\(email)'")?.stringValue)
        #expect(try await server.request("GET", "/api/schema/corrupt", token: theirs).status == 200, "\(label)")
        // Every route family.
        for (method, path, body) in [
            ("GET", "/api/schema/corrupt", nil), ("GET", "/api/schema/orphans", nil), ("GET", "/api/schema/transfer/options", nil),
            ("POST", "/api/schema/transfer/export", #"{"collections":["users"]}"#), ("POST", "/api/backups", #"{}"#),
            ("GET", "/api/backups", nil), ("POST", "/api/backups/latest/verify", nil), ("POST", "/api/backups/latest/plan", #"{}"#),
            ("POST", "/api/backups/latest/restore", #"{"confirm":true,"conflict":"overwrite"}"#),
            ("POST", "/api/schema/transfer/import", #"{"payload":{"version":1,"metadata":{"collections":[]}},"conflict":"skip"}"#),
        ] as [(String, String, String?)] {
            let reply = try await server.request(method, path, json: body, token: token)
            #expect(
                reply.status == 200,
                "\(label): \(method) \(path) → \(reply.status) \(String(decoding: reply.body, as: UTF8.self).prefix(400))")
        }
        // At most three active tokens: a fourth login revokes the oldest (deletes it, before 2.8).
        var tokens = [token]
        for _ in 0..<3 { tokens.append(try await server.login(as: email)) }
        #expect(try await server.request("GET", "/api/schema/corrupt", token: tokens[0]).status == 401, "\(label)")
        #expect(try count("token_hash = '\(hash)'") == (revocation ? 1 : 0), "\(label): the oldest token revoked as that Veloquent does")
        // Logout revokes this token; logout-all every other.
        let logout = try await server.request("DELETE", "/api/collections/superusers/auth/logout", token: tokens[1])
        #expect(logout.status == 200 && logout.message == "Logged out successfully." && logout.data == .array([]), "\(label)")
        #expect(try await server.request("GET", "/api/schema/corrupt", token: tokens[1]).status == 401, "\(label)")
        #expect(try await server.request("GET", "/api/schema/corrupt", token: tokens[2]).status == 200, "\(label)")
        let all = try await server.request("DELETE", "/api/collections/superusers/auth/logout-all", token: tokens[2])
        #expect(all.status == 200, "\(label)")
        for t in tokens[2...] { #expect(try await server.request("GET", "/api/schema/corrupt", token: t).status == 401, "\(label)") }
        if !revocation { #expect(try count("record_id = (SELECT id FROM superusers WHERE email = '\(email)')") == 0, "\(label)") }
    }
}
