import Foundation
import Hummingbird
import VeloKit

/// The auth routes Veloquent's admin UI calls around its login, answered as Veloquent answers them, so that all
/// of `/api/` can be routed to velo for the pages velo serves:
/// - `GET collections/superusers/auth/me`: the signed-in superuser (without `password`, with `collection_id`
///   and `collection_name`, dates as Eloquent serializes them);
/// - `DELETE collections/superusers/auth/logout` and `.../logout-all`: revoke this token, or every token of the
///   superuser (`revoked_at`; deleted in a database before Veloquent 2.8, as that Veloquent did);
/// - `POST onboarding/initialized` (no token): whether a superuser exists.
/// A token of another auth collection is 401 "User not authenticated." on these, as in Veloquent's controller.
struct AuthRoutes {
    let state: ServerState

    func register(on api: RouterGroup<VeloRequestContext>) {
        api.post("onboarding/initialized") { _, context in try await initialized(context) }
        let signedIn = api.group().add(middleware: SuperuserMiddleware(state: state, requireSuperuser: false))
        signedIn.get("collections/superusers/auth/me") { _, context in try await me(context) }
        signedIn.delete("collections/superusers/auth/logout") { _, context in try await logout(all: false, context) }
        signedIn.delete("collections/superusers/auth/logout-all") { _, context in try await logout(all: true, context) }
    }

    /// The superuser of the request's token; 401 as Veloquent's `userMatchesCollection` for another collection's.
    func superuser(_ context: VeloRequestContext) throws -> AuthenticatedRecord {
        guard let record = context.authenticated, record.isSuperuser else {
            throw APIError(.unauthorized, "User not authenticated.", hasErrorsKey: true)
        }
        return record
    }

    func me(_ context: VeloRequestContext) async throws -> Response {
        let record = try superuser(context)
        let tenant = try context.requireTenant()
        let timeout = state.configuration.busyTimeout
        let data: JSONValue = try await BlockingWork.run {
            let db = try Database(path: tenant.databasePath, mode: .readOnly, busyTimeout: timeout)
            let dates = try Self.dateColumns(of: record, in: db)
            let columns = try db.rows("SELECT name FROM pragma_table_info(?)", [.text(record.collectionTable)]).compactMap {
                $0[0].stringValue
            }
            let rows = try db.rows(
                "SELECT \(SQL.quoteList(columns)) FROM \(SQL.quote(record.collectionTable)) WHERE \"id\" = ?", [.text(record.recordID)])
            guard let row = rows.first else { throw APIError(.unauthorized, "User not authenticated.", hasErrorsKey: true) }
            var pairs: [(String, JSONValue)] = []
            for (name, value) in zip(columns, row) where name != "password" {
                pairs.append((name, dates.contains(name) ? EloquentValue.date(value) : EloquentValue.json(value)))
            }
            pairs += [("collection_id", .string(record.collectionID)), ("collection_name", .string(record.collectionName))]
            return .object(pairs)
        }
        return Envelope.success(data, records: true)
    }

    func logout(all: Bool, _ context: VeloRequestContext) async throws -> Response {
        let record = try superuser(context)
        let tenant = try context.requireTenant()
        let token = context.token ?? ""
        let configuration = state.configuration
        try await BlockingWork.run {
            let db = try Database(path: tenant.databasePath, mode: .readWrite, busyTimeout: configuration.busyTimeout)
            let tokens = try AuthTokens(database: db, lifetime: configuration.tokenLifetime, maxActive: configuration.maxActiveTokens)
            if all { try tokens.revokeAll(of: record) } else { try tokens.revoke(token: token) }
        }
        return Envelope.success(.array([]), message: "Logged out successfully.")
    }

    func initialized(_ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let timeout = state.configuration.busyTimeout
        let exists: Bool = try await BlockingWork.run {
            let db = try Database(path: tenant.databasePath, mode: .readOnly, busyTimeout: timeout)
            let rows = try db.rows("SELECT \"table_name\" FROM \"collections\" WHERE \"type\" = 'auth' AND \"name\" = 'superusers' LIMIT 1")
            guard let table = rows.first?[0].stringValue else { return false }
            return try db.scalar("SELECT 1 FROM \(SQL.quote(table)) LIMIT 1") != nil
        }
        return Envelope.success(.bool(exists))
    }

    /// The columns Eloquent serializes as dates: the timestamps and the collection's `datetime` fields.
    static func dateColumns(of record: AuthenticatedRecord, in db: Database) throws -> Set<String> {
        var names: Set<String> = ["created_at", "updated_at"]
        let text = try db.scalar("SELECT \"fields\" FROM \"collections\" WHERE \"id\" = ?", [.text(record.collectionID)])?.stringValue
        for field in (text.flatMap { try? JSONParser.parse($0) }?.arrayValue ?? []) where field["type"]?.stringValue == "datetime" {
            if let name = field["name"]?.stringValue { names.insert(name) }
        }
        return names
    }
}
