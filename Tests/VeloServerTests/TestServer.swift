import Foundation
import Logging
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `velo serve` started in this process on a free loopback port, over a fresh demo database (and a
/// repository), talked to over real HTTP with URLSession; `stop()` cancels it.
final class TestServer: @unchecked Sendable {
    static let password = "correct horse battery"
    /// Cost 4: the lowest bcrypt allows, so tests stay fast.
    static let passwordHash = PasswordCheck.hash(password, cost: 4)

    let directory: String
    let database: String
    let repository: String?
    let port: Int
    /// The server's graceful-shutdown state (tests start a shutdown through it).
    let shutdown: ShutdownCoordinator
    private let task: Task<Void, any Error>

    /// The demo's first superuser, whose password is set to `password`.
    static let adminEmail = "admin@acme.test"

    init(
        posts: Int = 40, repository withRepository: Bool = true, veloquentMigration: String? = nil, source: String? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }, prepare: (String) throws -> Void = { _ in }, name: String = #function
    ) async throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "velo-serve-tests-\(getpid())/\(safe)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        database = (directory as NSString).appendingPathComponent("tenant.sqlite")
        if let source {  // a database another Veloquent made (a fixture), copied
            try FileManager.default.copyItem(atPath: source, toPath: database)
        } else {
            var options = DemoDatabase.Options(posts: posts, seed: 7, journalMode: "delete")
            options.veloquentMigration = veloquentMigration
            try DemoDatabase(options: options).write(to: database)
        }
        let db = try Database(path: database, mode: .readWrite)
        try db.prepare("UPDATE \"superusers\" SET \"password\" = ?").run([.text(Self.passwordHash)])
        try prepare(database)
        repository = withRepository ? (directory as NSString).appendingPathComponent("repo") : nil
        var configuration = ServerConfiguration(databases: .single(database))
        configuration.port = 0
        configuration.repository = repository
        configure(&configuration)
        var logger = Logger(label: "velo.serve.test")
        logger.logLevel = .critical
        let server = VeloServer(configuration: configuration, logger: logger)
        shutdown = server.state.shutdown
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        task = Task(executorPreference: ServerExecutor.shared) {
            try await server.runUntilCancelled { port in continuation.yield(port) }
        }
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw VeloError("the server did not start") }
        self.port = port
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// One response: status, headers, raw body and its JSON.
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: JSONValue? { try? JSONParser.parse(Array(body)) }
        var message: String? { json?["message"]?.stringValue }
        var data: JSONValue? { json?["data"] }
        func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    func request(
        _ method: String, _ path: String, json body: String? = nil, data: Data? = nil, token: String? = nil,
        headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 60
        let body = method == "GET" ? nil : body  // URLSession refuses a GET with a body
        if let body { request.httpBody = Data(body.utf8) } else if let data { request.httpBody = data }
        if body != nil || data != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (bytes, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields["\(k)"] = "\(v)" }
        return Reply(status: http.statusCode, headers: fields, body: bytes)
    }

    /// Logs in as the demo's admin (or `email`) and returns the token.
    func login(as email: String = TestServer.adminEmail) async throws -> String {
        let reply = try await request(
            "POST", "/api/collections/superusers/auth/login",
            json: #"{"identity":"\#(email)","password":"\#(Self.password)"}"#)
        guard reply.status == 200, let token = reply.data?["token"]?.stringValue else {
            throw VeloError("login failed: \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
        }
        return token
    }

    /// A token row written the way Veloquent writes one (sha256 of the token in `auth_tokens`) for a record of
    /// `collection`, expiring at `expires` (Unix seconds), optionally revoked; returns the token.
    func veloquentToken(
        collection: String = "superusers", record: String? = nil, expires: Int64 = Int64(Date().timeIntervalSince1970) + 3600,
        revoked: Bool = false
    ) throws -> String {
        let db = try Database(path: database, mode: .readWrite)
        let collectionRow = try db.rows("SELECT id, table_name FROM collections WHERE name = ?", [.text(collection)])[0]
        let table = collectionRow[1].stringValue!
        let recordID = try record ?? db.scalar("SELECT id FROM \(SQL.quote(table)) ORDER BY id LIMIT 1")!.stringValue!
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let now = Int64(Date().timeIntervalSince1970)
        // An older Veloquent's table has no revoked_at: a revoked token there was deleted.
        let revocation = try db.scalar("SELECT count(*) FROM pragma_table_info('auth_tokens') WHERE name = 'revoked_at'")?.int64Value == 1
        if revoked && !revocation { return token }
        try db.prepare(
            """
            INSERT INTO auth_tokens (id, collection_name, collection_id, record_id, token_hash, expires_at, created_at, updated_at\(revocation ? ", revoked_at" : ""))
            VALUES (?, ?, ?, ?, ?, ?, ?, ?\(revocation ? ", ?" : ""))
            """
        ).run(
            [
                .text(ULID.string(milliseconds: UInt64(now) * 1000, high: .random(in: 0...UInt16.max), low: .random(in: 0...UInt64.max))),
                .text(collection), collectionRow[0], .text(recordID), .text(AuthTokens.hash(token)),
                .text(Timestamp.format(expires)), .text(Timestamp.format(now - 60)), .text(Timestamp.format(now - 60)),
            ] + (revocation ? [revoked ? .text(Timestamp.format(now - 1)) : .null] : []))
        return token
    }

    /// Runs SQL on the tenant database.
    func sql(_ text: String) throws {
        try Database(path: database, mode: .readWrite).execute(text)
    }

    func scalar(_ text: String) throws -> SQLiteValue? {
        try Database(path: database, mode: .readOnly).scalar(text)
    }

    func hasTable(_ name: String) throws -> Bool {
        try scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '\(name)'")?.int64Value == 1
    }
}
