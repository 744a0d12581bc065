import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// Veloquent's own feature tests for the routes velo serves (`tests/Feature` of kevintherm/veloquent:
/// AuthTokenAuthenticationTest, OnboardingInitializedStatusTest; the schema-transfer and schema controllers'
/// rules), replayed against `velo serve`, and Laravel's request semantics around them (TrimStrings, the
/// validation messages and `errors` shape, 404/405/HEAD, CORS) as Veloquent's skeleton configures Laravel.
@Suite struct VeloquentFeatureReplayTests {
    // AuthTokenAuthenticationTest

    @Test func returnsOpaqueLoginPayloadKeysAndOmitsRefreshFields() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let reply = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"\#(TestServer.adminEmail)","password":"\#(TestServer.password)"}"#)
        #expect(reply.status == 200)
        #expect(reply.data?["token"]?.stringValue != nil && reply.data?["expires_in"]?.intValue != nil)
        #expect(reply.data?["collection_name"] == .string("superusers"))
        #expect(reply.data?["refresh_token"] == nil && reply.data?["refresh_expires_in"] == nil)
    }

    @Test func authenticatesMeWithAValidTokenAndRejectsAnotherCollectionsToken() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let me = try await server.request("GET", "/api/collections/superusers/auth/me", token: try await server.login())
        #expect(me.status == 200 && me.data?["email"] == .string(TestServer.adminEmail))
        let user = try server.veloquentToken(collection: "users")
        let other = try await server.request("GET", "/api/collections/superusers/auth/me", token: user)
        #expect(other.status == 401 && other.message == "User not authenticated.")
        #expect(other.json?["errors"] == .null, "Veloquent's errorResponse: errors null")
        #expect(try await server.request("GET", "/api/collections/superusers/auth/me").status == 401)
    }

    @Test func revokesAllActiveTokensOnLogoutAll() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let a = try await server.login(), b = try await server.login()
        #expect(try await server.request("DELETE", "/api/collections/superusers/auth/logout-all", token: a).status == 200)
        for token in [a, b] {
            #expect(try await server.request("GET", "/api/collections/superusers/auth/me", token: token).status == 401)
        }
    }

    @Test func rejectsExpiredTokensAndTheRemovedRefreshEndpoint() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let expired = try server.veloquentToken(expires: Int64(Date().timeIntervalSince1970) - 60)
        #expect(try await server.request("GET", "/api/collections/superusers/auth/me", token: expired).status == 401)
        #expect(try await server.request("POST", "/api/collections/superusers/auth/refresh").status == 404)
    }

    // OnboardingInitializedStatusTest

    @Test func onboardingSaysWhetherASuperuserExists() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        #expect(try await server.request("POST", "/api/onboarding/initialized").data == .bool(true))
        try server.sql("DELETE FROM superusers")
        let none = try await server.request("POST", "/api/onboarding/initialized")
        #expect(none.status == 200 && none.data == .bool(false))
        let get = try await server.request("GET", "/api/onboarding/initialized")
        #expect(get.status == 405 && get.header("Allow") == "POST")
        #expect(get.message == "The GET method is not supported for route api/onboarding/initialized. Supported methods: POST.")
    }

    // The schema-transfer controller's rules, with Laravel's semantics (issue 29, items 1, 2, 3, 6, 7).

    @Test func importValidatesAsLaravelDoes() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        func importing(_ body: String) async throws -> TestServer.Reply {
            try await server.request("POST", "/api/schema/transfer/import", json: body, token: token)
        }
        let sideways = try await importing(#"{"payload":{"version":1},"conflict":"sideways"}"#)
        #expect(sideways.status == 422 && sideways.message == "The selected conflict is invalid.")
        #expect(sideways.json?["errors"]?["conflict"] == .array([.string("The selected conflict is invalid.")]))
        let number = try await importing(#"{"payload":{"version":1},"conflict":5}"#)
        #expect(number.json?["errors"]?["conflict"]?.arrayValue?.count == 2, "string and in: both fail")
        #expect(try await importing(#"{"payload":{"version":1,"metadata":{"collections":[]}},"conflict":""}"#).status == 200, "empty: skip")
        #expect(try await importing(#"{"payload":{"version":1,"metadata":{"collections":[]}},"conflict":" overwrite "}"#).status == 200)
        for empty in [#"{"payload":{}}"#, #"{"payload":[]}"#, #"{"payload":""}"#, #"{}"#, "[]"] {
            let reply = try await importing(empty)
            #expect(reply.status == 422 && reply.message == "The payload field is required.", "\(empty): \(reply.message ?? "")")
        }
        let list = try await importing(#"{"payload":[1,2]}"#)
        #expect(list.status == 200 && list.data?["metadata"] == .array([]), "an array passes Laravel's array rule")
        let rules = try await importing(
            #"{"payload":{"version":1,"metadata":{"collections":[{"name":"notes","type":"base","fields":[],"api_rules":{"list":null,"foo":"","bar":""}}]}}}"#
        )
        #expect(rules.status == 422 && rules.message?.contains("Invalid api rules keys: foo, bar") == true, "\(rules.message ?? "")")
        #expect(try server.scalar("SELECT count(*) FROM collections WHERE name = 'notes'")?.int64Value == 0)
        let cache = try await importing(#"{"payload":{"version":1,"records":{"cache":[{"key":"k","value":"v","expiration":1}]}}}"#)
        #expect(cache.status == 422 && cache.message?.contains("Table 'cache' is not importable.") == true, "\(cache.message ?? "")")
        // An overwritten record without updated_at gets the time of the import (Eloquent's save()).
        try server.sql("UPDATE _velo_tags SET updated_at = '2020-01-01 00:00:00'")
        let tag = try #require(try server.scalar("SELECT id FROM _velo_tags LIMIT 1")?.stringValue)
        let overwrite = try await importing(
            #"{"payload":{"version":1,"records":{"_velo_tags":[{"id":"\#(tag)","name":"renamed"}]}},"conflict":"overwrite"}"#)
        #expect(overwrite.status == 200, "\(String(decoding: overwrite.body, as: UTF8.self))")
        let stamped = try #require(try server.scalar("SELECT updated_at FROM _velo_tags WHERE id = '\(tag)'")?.stringValue)
        #expect(stamped.hasPrefix(String(Timestamp.format(Int64(Date().timeIntervalSince1970)).prefix(10))), "\(stamped)")
    }

    @Test func bodiesAreReadAsLaravelReadsThem() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        // Empty strings fail `required`; strings are trimmed (the password is not).
        let blank = try await server.request("POST", "/api/collections/superusers/auth/login", json: #"{"identity":"","password":""}"#)
        #expect(blank.status == 422 && blank.json?["errors"]?["identity"] != nil && blank.json?["errors"]?["password"] != nil)
        #expect(blank.message == "The identity field is required. (and 1 more error)")
        let padded = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"  \#(TestServer.adminEmail) ","password":"\#(TestServer.password)"}"#)
        #expect(padded.status == 200)
        let token = try #require(padded.data?["token"]?.stringValue)
        // A JSON array as the export body has no fields: every field takes its default.
        let export = try await server.request("POST", "/api/schema/transfer/export", json: "[1,2]", token: token)
        #expect(export.status == 200 && export.data?["metadata"]?["collections"] == .array([]))
        // Orphans by name, as Laravel's table listing gives them.
        try server.sql("CREATE TABLE _velo_zz (id TEXT); CREATE TABLE _velo_aa (id TEXT)")
        let orphans = try await server.request("GET", "/api/schema/orphans", token: token)
        let names = orphans.data?.arrayValue?.compactMap { $0["table"]?.stringValue ?? $0.stringValue } ?? []
        #expect(names == names.sorted() && names.contains("_velo_aa"), "\(names)")
    }

    @Test func routingAnswersAsLaravelDoes() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let unknown = try await server.request("GET", "/api/collections/posts/records")
        #expect(unknown.status == 404 && unknown.message?.hasPrefix("The route api/collections/posts/records could not be found.") == true)
        #expect(unknown.message?.contains("velo serve answers") == true, "says which routes velo serves")
        let method = try await server.request("DELETE", "/api/backups")
        #expect(method.status == 405 && method.header("Allow") == "GET, HEAD, POST")
        let head = try await server.request("HEAD", "/api/openapi.json", token: try await server.login())
        #expect(head.status == 200 && head.body.isEmpty)
        let preflight = try await server.request(
            "OPTIONS", "/api/backups", headers: ["Origin": "https://admin.example.test", "Access-Control-Request-Method": "POST"])
        #expect(preflight.status == 204 && preflight.header("Access-Control-Allow-Origin") == "*")
        #expect(preflight.header("Access-Control-Allow-Methods") == "POST")
        let cors = try await server.request("GET", "/api/backups", headers: ["Origin": "https://admin.example.test"])
        #expect(cors.status == 401 && cors.header("Access-Control-Allow-Origin") == "*", "errors carry CORS headers too")
    }

    /// slides token expiration when remaining lifetime is below the threshold: to now + the configured lifetime
    /// (never by the token's own age), and not at all in a database before Veloquent 2.8.
    @Test func slidesAnExpiringTokenToAFullLifetime() async throws {
        for migration in [nil, "2026_06_02_190000_create_ai_settings_and_agents_collection"] {
            let server = try await TestServer(veloquentMigration: migration)
            defer { Task { await server.stop() } }
            // An hour left of thirty days: under the half that slides, and still valid however long the suite keeps
            // this test waiting for a thread.
            let left = Int64(Date().timeIntervalSince1970) + 3_600
            let token = try server.veloquentToken(expires: left)
            let sent = Int64(Date().timeIntervalSince1970)
            #expect(try await server.request("GET", "/api/collections/superusers/auth/me", token: token).status == 200)
            let answered = Int64(Date().timeIntervalSince1970)
            let expires = try #require(
                try server.scalar("SELECT expires_at FROM auth_tokens WHERE token_hash = '\(AuthTokens.hash(token))'")?.stringValue)
            let seconds = try #require(AuthTokens.parseLaravel(expires))
            if migration == nil {
                #expect((sent + 2_592_000...answered + 2_592_000).contains(seconds), "slid to a full lifetime: \(expires)")
            } else {
                #expect(seconds == left, "a token of a database before 2.8 does not slide: \(expires)")
            }
        }
    }

    /// Laravel's answers to OPTIONS and its CORS on every API answer; `Allow` as the router matches.
    @Test func optionsAndCORSAsLaravel() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let options = try await server.request("OPTIONS", "/api/backups")
        #expect(options.status == 200 && options.header("Allow") == "GET,HEAD,POST" && options.body.isEmpty)
        let preflight = try await server.request("OPTIONS", "/api/backups", headers: ["Access-Control-Request-Method": "DELETE"])
        #expect(preflight.status == 204 && preflight.header("Access-Control-Allow-Methods") == "DELETE", "no Origin needed")
        let plain = try await server.request("POST", "/api/onboarding/initialized")
        #expect(plain.header("Access-Control-Allow-Origin") == "*", "sent whatever the Origin")
        let prune = try await server.request("DELETE", "/api/backups/prune")
        #expect(prune.status == 405 && prune.header("Allow") == "POST", "the literal route, not backups/{snapshot}")
        #expect(try await server.request("GET", "/api/nowhere/").message?.hasPrefix("The route api/nowhere could not be found.") == true)
    }

    /// Record data goes out as stored; logins record the client behind the local proxy; an empty identity is
    /// missing; a database without the superusers collection is Veloquent's 404.
    @Test func recordsLoginsAndRefusalsAsVeloquent() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        try server.sql("UPDATE superusers SET name = '/srv/team' WHERE email = '\(TestServer.adminEmail)'")
        let login = try await server.request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"\#(TestServer.adminEmail)","password":"\#(TestServer.password)"}"#,
            headers: ["X-Forwarded-For": "203.0.113.9"])
        let token = try #require(login.data?["token"]?.stringValue)
        #expect(
            try server.scalar("SELECT ip_address FROM auth_tokens WHERE token_hash = '\(AuthTokens.hash(token))'")?.stringValue
                == "203.0.113.9")
        let me = try await server.request("GET", "/api/collections/superusers/auth/me", token: token)
        #expect(me.data?["name"] == .string("/srv/team"), "record data is never rewritten")
        let empty = try await server.request("POST", "/api/collections/superusers/auth/login", json: #"{"identity":[],"password":"x"}"#)
        #expect(empty.json?["errors"]?["identity"] == .array([.string("The identity field is required.")]))
        let notJSON = try await server.request("POST", "/api/schema/transfer/import", json: "{not json", token: token)
        #expect(notJSON.status == 400)
        let list = try await server.request("POST", "/api/schema/transfer/import", json: #"{"payload":[1]}"#, token: token)
        #expect(list.data?["records"] == .array([]))
        try server.sql("DELETE FROM collections WHERE name = 'superusers'")
        let gone = try await server.request(
            "POST", "/api/collections/superusers/auth/login", json: #"{"identity":"a@b.c","password":"x"}"#)
        #expect(gone.status == 404 && gone.message == "Collection not found")
    }

    /// Eloquent's timestamps on imported records: an unchanged record keeps its `updated_at`; a changed one with
    /// the same `updated_at` gets the time of the import; a new one without id or timestamps gets them.
    @Test func importedRecordsGetEloquentsTimestampsAndIDs() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        try server.sql("UPDATE _velo_tags SET updated_at = '2020-01-01 00:00:00'")
        let rows = try Database(path: server.database, mode: .readOnly).rows("SELECT id, name FROM _velo_tags ORDER BY id LIMIT 2")
        let same = rows[0][0].stringValue!, sameName = rows[0][1].stringValue!, changed = rows[1][0].stringValue!
        let body = """
            {"payload":{"version":1,"records":{"_velo_tags":[
              {"id":"\(same)","name":"\(sameName)"},
              {"id":"\(changed)","name":"renamed","updated_at":"2020-01-01 00:00:00"},
              {"name":"brand-new"}]}},"conflict":"overwrite"}
            """
        let reply = try await server.request("POST", "/api/schema/transfer/import", json: body, token: token)
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        #expect(try server.scalar("SELECT updated_at FROM _velo_tags WHERE id = '\(same)'")?.stringValue == "2020-01-01 00:00:00")
        #expect(try server.scalar("SELECT updated_at FROM _velo_tags WHERE id = '\(changed)'")?.stringValue != "2020-01-01 00:00:00")
        let new = try Database(path: server.database, mode: .readOnly).rows(
            "SELECT id, created_at, updated_at FROM _velo_tags WHERE name = 'brand-new'")
        #expect(new.count == 1 && new[0][0].stringValue?.count == 26 && new[0][0].stringValue == new[0][0].stringValue?.lowercased())
        #expect(new.first?[1].stringValue != nil && new.first?[2].stringValue != nil)
    }
}
