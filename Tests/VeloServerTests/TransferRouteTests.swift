import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// Veloquent's schema-transfer routes over HTTP, through `velo transfer`'s code.
@Suite struct TransferRouteTests {
    @Test func optionsListTheNonSystemCollectionsAndTheAllowList() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let reply = try await server.request("GET", "/api/schema/transfer/options", token: try await server.login())
        #expect(reply.status == 200)
        let names = reply.data?["collections"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["comments", "posts", "tags", "users"])
        #expect(reply.data?["system_tables"]?.arrayValue?.compactMap(\.stringValue).contains("superusers") == true)
    }

    @Test func exportStreamsThePayloadInTheEnvelope() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let reply = try await server.request(
            "POST", "/api/schema/transfer/export", json: #"{"collections":["posts","tags"],"system_tables":["superusers"]}"#, token: token)
        #expect(reply.status == 200)
        #expect(reply.message == "Success")
        #expect(Int(reply.header("Content-Length") ?? "") == reply.body.count)
        let data = try #require(reply.data)
        #expect(data["version"]?.intValue == 1)
        #expect(data["metadata"]?["collections"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["posts", "tags"])
        let tables = data["records"]?.objectValue?.map(\.0) ?? []
        #expect(tables.contains("_velo_posts") && tables.contains("_velo_tags") && tables.contains("superusers"))
        #expect(
            data["records"]?["_velo_posts"]?.arrayValue?.count
                == Int(try server.scalar("SELECT count(*) FROM _velo_posts")?.int64Value ?? -1))
        // Veloquent exports only what it is sent.
        let none = try await server.request("POST", "/api/schema/transfer/export", json: "{}", token: token)
        #expect(none.data?["metadata"]?["collections"] == .array([]))
    }

    @Test func exportValidatesItsBody() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let bad = try await server.request(
            "POST", "/api/schema/transfer/export", json: #"{"collections":"posts","include_records":"maybe"}"#, token: token)
        #expect(bad.status == 422)
        #expect(bad.json?["errors"]?["collections"] != nil)
        #expect(bad.json?["errors"]?["include_records"] != nil)
        let notAllowed = try await server.request(
            "POST", "/api/schema/transfer/export", json: #"{"system_tables":["settings"]}"#, token: token)
        #expect(notAllowed.status == 422)
        #expect(notAllowed.message == "Table 'settings' is not allowed for export/import.")
        #expect(notAllowed.json?["errors"] == .null)
    }

    /// An export of one server imported into another: Veloquent's result shape, a safety snapshot first.
    @Test func importRoundTripsAnExport() async throws {
        let source = try await TestServer(name: "importSource")
        defer { Task { await source.stop() } }
        let target = try await TestServer(name: "importTarget")
        defer { Task { await target.stop() } }
        let exported = try await source.request(
            "POST", "/api/schema/transfer/export", json: #"{"collections":["tags"]}"#, token: try await source.login())
        let payload = try #require(exported.data)
        try target.sql("DELETE FROM _velo_posts_tags_tags_pivot; DELETE FROM _velo_tags")
        let token = try await target.login()
        let body = JSONWriter.string(.object([("payload", payload), ("conflict", .string("skip"))]))
        let reply = try await target.request("POST", "/api/schema/transfer/import", json: body, token: token)
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        #expect(reply.message == "Import completed successfully.")
        #expect(reply.data?["metadata"]?.arrayValue?.first?["action"]?.stringValue == "skipped")
        let inserted = reply.data?["records"]?["_velo_tags"]?["inserted"]?.intValue
        #expect(inserted == Int(try source.scalar("SELECT count(*) FROM _velo_tags")?.int64Value ?? -1))
        #expect(try target.scalar("SELECT count(*) FROM _velo_tags")?.int64Value == Int64(inserted ?? -1))
        let safety = try #require(reply.header("X-Velo-Safety-Snapshot"))
        let list = try await target.request("GET", "/api/backups", token: token)
        #expect(list.data?.arrayValue?.contains { $0["id"]?.stringValue == safety } == true)
    }

    /// A blocker (a row that would break a unique index) is 422 with velo's findings under `errors`, and nothing
    /// is written.
    @Test func aBlockedImportIs422WithItsFindingsAndWritesNothing() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let exported = try await server.request("POST", "/api/schema/transfer/export", json: #"{"collections":["tags"]}"#, token: token)
        var text = JSONWriter.string(.object([("payload", try #require(exported.data))]))
        // Every tag gets a new id but keeps its unique name: a collision for each row.
        let ids = try Database(path: server.database, mode: .readOnly).rows("SELECT id FROM _velo_tags").compactMap { $0[0].stringValue }
        for id in ids { text = text.replacingOccurrences(of: "\"\(id)\"", with: "\"x\(id.dropFirst())\"") }
        let before = try server.scalar("SELECT count(*) FROM _velo_tags")?.int64Value
        let reply = try await server.request("POST", "/api/schema/transfer/import", json: text, token: token)
        #expect(reply.status == 422)
        #expect(reply.message?.hasPrefix("The import is blocked:") == true)
        let findings = try #require(reply.json?["errors"]?.arrayValue)
        #expect(findings.contains { $0["severity"]?.stringValue == "error" })
        #expect(try server.scalar("SELECT count(*) FROM _velo_tags")?.int64Value == before)
        #expect(try await server.request("GET", "/api/backups", token: token).data == .array([]))
    }

    @Test func importValidatesAndLimitsItsBody() async throws {
        let server = try await TestServer(configure: { $0.maxBodyBytes = 4096 })
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let missing = try await server.request("POST", "/api/schema/transfer/import", json: #"{"conflict":"skip"}"#, token: token)
        #expect(missing.status == 422)
        #expect(missing.json?["errors"]?["payload"]?.arrayValue?.first?.stringValue == "The payload field is required.")
        let badConflict = try await server.request(
            "POST", "/api/schema/transfer/import", json: #"{"payload":{"version":1,"metadata":{"collections":[]}},"conflict":"merge"}"#,
            token: token)
        #expect(badConflict.status == 422)
        let big = "{\"payload\":{\"version\":1,\"metadata\":{\"collections\":[]},\"pad\":\"\(String(repeating: "x", count: 8000))\"}}"
        let tooLarge = try await server.request("POST", "/api/schema/transfer/import", json: big, token: token)
        #expect(tooLarge.status == 413)
    }
}
