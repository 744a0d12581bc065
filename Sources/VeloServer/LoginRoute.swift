import Foundation
import HTTPTypes
import Hummingbird
import VeloKit

/// `POST /api/collections/superusers/auth/login` with `{"identity", "password"}`: Veloquent's standard login for
/// the superusers collection. The identity is matched against the collection's identity fields (default
/// `email`), the password against the bcrypt hash; a token is issued as Veloquent issues one. Failures are 401
/// "Invalid credentials." and count against the client's address: past the burst, 429 "Too Many Attempts.".
struct LoginRoute {
    let state: ServerState

    /// A bcrypt hash checked when there is no such user, so a wrong identity takes as long as a wrong password
    /// (cost 12, Laravel's default `BCRYPT_ROUNDS`); made once, at the first such login.
    static let decoyHash = PasswordCheck.hash("velo-decoy-\(UInt64.random(in: 0...UInt64.max))", cost: 12)

    func handle(_ request: Request, context: VeloRequestContext) async throws -> Response {
        let client = context.clientAddress(of: request)
        if let wait = state.limiter.retryAfter(client) {
            var error = APIError(.tooManyRequests, "Too Many Attempts.")
            error.headers[.retryAfter] = String(wait)
            throw error
        }
        let body = try await JSONBody.read(request, limit: state.configuration.maxJSONBytes)
        var v = Validation.Collector()
        let identity = body["identity"]?.stringValue
        let password = body["password"]?.stringValue
        // Laravel's `required` also fails on an empty array or object (and stops there).
        func blank(_ value: JSONValue?) -> Bool { value == nil || value == .array([]) || value == .object([]) }
        if blank(body["identity"]) {
            v.add("identity", "The identity field is required.")
        } else if identity == nil {
            v.add("identity", "The identity field must be a string.")
        }
        if blank(body["password"]) {
            v.add("password", "The password field is required.")
        } else if password == nil {
            v.add("password", "The password field must be a string.")
        }
        try v.check()
        let tenant = try context.requireTenant()
        let configuration = state.configuration
        let userAgent = request.headers[.userAgent]
        // The client's own id for the fingerprint, where Veloquent looks for one: the first header or input that
        // is there at all (PHP's `??`), a number as its text; an empty one or "0" (falsy) means none.
        var clientID: String?
        for name in ["X-Fingerprint", "X-Device-ID", "X-Client-ID"] where clientID == nil {
            if let field = HTTPField.Name(name), let value = request.headers[field] { clientID = value }
        }
        for key in ["fingerprint", "device_id", "client_id"] where clientID == nil {
            switch body.value[key] ?? request.uri.queryParameters.get(key).map({ .string($0) }) {
            case .string(let text)?: clientID = text
            case .number(let text)?: clientID = text
            default: break
            }
        }
        if clientID == "0" { clientID = nil }
        let issued: AuthTokens.Issued? = try await BlockingWork.run {
            let db = try Database(path: tenant.databasePath, mode: .readWrite, busyTimeout: configuration.busyTimeout)
            let rows = try db.rows("SELECT \"id\", \"table_name\", \"options\" FROM \"collections\" WHERE \"name\" = 'superusers'")
            guard let row = rows.first, let collectionID = row[0].stringValue, let table = row[1].stringValue else {
                throw APIError(.notFound, "Collection not found")  // Veloquent's route binding
            }
            let columns = Set(try db.rows("SELECT name FROM pragma_table_info(?)", [.text(table)]).compactMap { $0[0].stringValue })
            var fields = ["email"]
            if let text = row[2].stringValue, let options = try? JSONParser.parse(text),
                let configured = options["auth_methods"]?["standard"]?["identity_fields"]?.arrayValue?.compactMap(\.stringValue),
                !configured.isEmpty
            {
                fields = configured
            }
            fields = fields.filter(columns.contains)
            var user: (id: String, hash: String)?
            if !fields.isEmpty, columns.contains("password") {
                let condition = fields.map { "\(SQL.quote($0)) = ?" }.joined(separator: " OR ")
                let found = try db.rows(
                    "SELECT \"id\", \"password\" FROM \(SQL.quote(table)) WHERE \(condition) LIMIT 1",
                    fields.map { _ in .text(identity!) })
                if let f = found.first, let id = f[0].stringValue { user = (id, f[1].stringValue ?? "") }
            }
            let ok = PasswordCheck.verify(password!, hash: user?.hash ?? Self.decoyHash) && user != nil
            guard ok, let user else { return nil }
            let address = client == "unknown" ? nil : client
            return try AuthTokens(database: db, lifetime: configuration.tokenLifetime, maxActive: configuration.maxActiveTokens)
                .issue(
                    collectionID: collectionID, collectionName: "superusers", recordID: user.id,
                    metadata: .init(
                        ipAddress: address, userAgent: userAgent,
                        fingerprint: Fingerprint.generate(clientID: clientID, ipAddress: address, userAgent: userAgent)))
        }
        guard let issued else {
            state.limiter.recordFailure(client)
            throw APIError(.unauthorized, "Invalid credentials.")
        }
        return Envelope.success(
            .object([
                ("token", .string(issued.token)), ("expires_in", .int(issued.expiresIn)),
                ("collection_name", .string(issued.collectionName)),
            ]))
    }
}
