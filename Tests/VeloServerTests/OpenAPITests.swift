import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// The OpenAPI document: served, committed as docs/openapi.yaml, and checked against the server by schemathesis.
@Suite struct OpenAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let committed = root.appendingPathComponent("docs/openapi.yaml").path

    /// docs/openapi.yaml is the document the server serves (regenerate with VELO_UPDATE_OPENAPI=1).
    @Test func theCommittedDocumentIsTheServedOne() throws {
        let text = OpenAPIDocument.yaml(prefix: "/api")
        if ProcessInfo.processInfo.environment["VELO_UPDATE_OPENAPI"] == "1" {
            try text.write(toFile: Self.committed, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOfFile: Self.committed, encoding: .utf8)
        #expect(
            committed == text,
            "docs/openapi.yaml is stale: run VELO_UPDATE_OPENAPI=1 swift test --filter theCommittedDocumentIsTheServedOne")
    }

    /// Every route the router serves is in the document, and the document names no route it does not serve.
    @Test func theDocumentListsEveryRoute() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let reply = try await server.request("GET", "/api/openapi.json", token: try await server.login())
        #expect(reply.status == 200)
        #expect(reply.json?["openapi"]?.stringValue == "3.1.0")
        let paths = Set(reply.json?["paths"]?.objectValue?.map(\.0) ?? [])
        let routes = Set(
            (AuthTests.protectedRoutes + AuthTests.signedInRoutes + AuthTests.openRoutes).map { route in
                route.1.replacingOccurrences(of: "/api", with: "").replacingOccurrences(
                    of: "/collections/posts/", with: "/collections/{collection}/"
                )
                .replacingOccurrences(of: "/orphans/_velo_x", with: "/orphans/{table_name}").replacingOccurrences(
                    of: "/latest", with: "/{snapshot}")
            })
        #expect(paths == routes)
    }

    /// schemathesis (from PyPI; `.ci/run` installs it) against the served document, a bounded number of
    /// examples per operation: no 5xx, no response that breaks the schema, no undocumented status.
    @Test(.timeLimit(.minutes(3))) func schemathesisFindsNoServerErrorOrSchemaViolation() async throws {
        guard let schemathesis = Self.which("schemathesis") ?? Self.which("st") else {
            print("schemathesis is not installed (pip install schemathesis): the schemathesis run is skipped")
            return
        }
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        // Something for the snapshot routes to find.
        #expect(try await server.request("POST", "/api/backups", token: token).status == 200)
        let document = (server.directory as NSString).appendingPathComponent("openapi.json")
        try await server.request("GET", "/api/openapi.json", token: token).body.write(to: URL(fileURLWithPath: document))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: schemathesis)
        process.arguments = [
            "run", document, "--url", "http://127.0.0.1:\(server.port)/api", "-H", "Authorization: Bearer \(token)",
            "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples", "12", "--seed", "1", "--exclude-checks", "unsupported_method",
            // The server runs in this test process: under the whole suite on a 2-core machine (the replicate
            // tests' writers and velo processes beside it) an answer can take longer than schemathesis's 10 s
            // default, as two full runs showed on a request that answers at once alone. Latency is not what
            // this test checks.
            "--request-timeout", "60",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["SCHEMATHESIS_HOOKS"] = nil
        environment["NO_COLOR"] = "1"
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: server.directory)  // its .schemathesis cache goes there
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self)
        #expect(process.terminationStatus == 0, "schemathesis failed:\n\(text.suffix(6000))")
    }

    static func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
