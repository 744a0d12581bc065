import Foundation
import Hummingbird
import VeloKit

/// Veloquent's schema-maintenance routes, backed by velo's schema health: `GET schema/corrupt`,
/// `POST collections/{collection}/recover`, `GET|DELETE schema/orphans`, `DELETE schema/orphans/{table_name}`.
/// Everything that changes the database snapshots what it touches into the repository first.
struct SchemaRoutes {
    let state: ServerState

    func register(on group: RouterGroup<VeloRequestContext>) {
        group.get("schema/corrupt") { _, context in try await corrupt(context) }
        group.post("collections/{collection}/recover") { _, context in try await recover(context) }
        group.get("schema/orphans") { _, context in try await orphans(context) }
        group.delete("schema/orphans") { _, context in try await dropOrphans(nil, context) }
        group.delete("schema/orphans/{table_name}") { _, context in
            try await dropOrphans(try context.parameters.require("table_name"), context)
        }
    }

    /// Veloquent's entries for `schema_jobs` markers (`id, collection_id, operation, table_name, started_at`,
    /// timestamps, `collection`), then one `operation: "drift"` entry per collection whose table has drifted
    /// from its metadata; every entry carries velo's `findings` for its collection.
    func corrupt(_ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let timeout = state.configuration.busyTimeout
        let entries: JSONValue = try await BlockingWork.run {
            let db = try Database(path: tenant.databasePath, mode: .readOnly, busyTimeout: timeout)
            let layout = try TenantDatabase.load(db)
            var findings: [String: [SchemaFinding]] = [:]
            for c in layout.collections { findings[c.id] = SchemaHealth.check(c, in: layout) }
            func findingsJSON(_ id: String) throws -> JSONValue { try JSONValueEncoder().encode(findings[id] ?? []) }
            var out: [JSONValue] = []
            var marked = Set<String>()
            if let table = layout.schema.table("schema_jobs") {
                let has = Set(table.columns.map(\.name))
                func column(_ name: String) -> String { has.contains(name) ? SQL.quote(name) : "NULL" }
                let sql =
                    "SELECT \(column("id")), \(column("collection_id")), \(column("operation")), \(column("table_name")), \(column("started_at")), \(column("created_at")), \(column("updated_at")) FROM \"schema_jobs\" ORDER BY rowid"
                for row in try db.rows(sql) {
                    let collectionID = row[1].stringValue ?? ""
                    marked.insert(collectionID)
                    out.append(
                        .object([
                            ("id", EloquentValue.json(row[0])), ("collection_id", EloquentValue.json(row[1])),
                            ("operation", EloquentValue.json(row[2])),
                            ("table_name", EloquentValue.json(row[3])), ("started_at", Self.unixTime(row[4])),
                            ("created_at", EloquentValue.date(row[5])), ("updated_at", EloquentValue.date(row[6])),
                            ("collection", try CollectionRow.read(db, id: collectionID) ?? .null),
                            ("findings", try findingsJSON(collectionID)),
                        ]))
                }
            }
            for c in layout.collections where !marked.contains(c.id) {
                guard (findings[c.id] ?? []).contains(where: { $0.severity == .error }) else { continue }
                out.append(
                    .object([
                        ("id", .string("drift-\(c.id)")), ("collection_id", .string(c.id)), ("operation", .string("drift")),
                        ("table_name", .string(c.tableName)), ("started_at", .null), ("created_at", .null), ("updated_at", .null),
                        ("collection", try CollectionRow.read(db, id: c.id) ?? .null),
                        ("findings", try findingsJSON(c.id)),
                    ]))
            }
            return .array(out)
        }
        return Envelope.success(entries, records: true)  // collection rows as stored; findings name tables only
    }

    /// velo's lossless recovery of one collection (an id or a name), after a snapshot of it into the repository.
    func recover(_ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try context.parameters.require("collection")
        let timeout = state.configuration.busyTimeout
        // Route binding first, as Veloquent's: an unknown collection is 404, a system one 403.
        try await BlockingWork.run {
            let db = try Database(path: tenant.databasePath, mode: .readOnly, busyTimeout: timeout)
            guard let c = try TenantDatabase.load(db).collection(named: name) else { throw APIError(.notFound, "Collection not found") }
            if c.isSystem { throw APIError(.forbidden, "This action is unauthorized.") }
        }
        let repository = try await state.repository(for: "recover")
        let state = self.state
        let result = try await state.gate.with([state.databaseKey(tenant), state.repositoryKey], for: "recover \(name)") {
            try await BlockingWork.run {
                try SchemaRecovery.run(
                    databasePath: tenant.databasePath, collection: name, repository: { repository }, dryRun: false,
                    busyTimeout: timeout)
            }
        }
        return try Envelope.success(encoding: result, message: "Collection schema recovered successfully.")
    }

    /// The orphan tables' names; pivot tables of live relation_many fields are not orphans.
    func orphans(_ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let timeout = state.configuration.busyTimeout
        let names: [String] = try await BlockingWork.run {
            let db = try Database(path: tenant.databasePath, mode: .readOnly, busyTimeout: timeout)
            return try OrphanTables.list(db, layout: try TenantDatabase.load(db)).map(\.table)
        }
        return Envelope.success(.array(names.map { .string($0) }))
    }

    /// Drops one orphan (or all of them), snapshotted into the repository first.
    func dropOrphans(_ table: String?, _ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let repository = try await state.repository(for: "dropping orphan tables")
        let timeout = state.configuration.busyTimeout
        let state = self.state
        let dropped: OrphanTables.Dropped? = try await state.gate.with(
            [state.databaseKey(tenant), state.repositoryKey], for: "drop orphans"
        ) {
            try await BlockingWork.run {
                let targets: [String]
                if let table {
                    targets = [table]
                } else {
                    let db = try Database(path: tenant.databasePath, mode: .readOnly, busyTimeout: timeout)
                    targets = try OrphanTables.list(db, layout: try TenantDatabase.load(db)).map(\.table)
                }
                if targets.isEmpty { return nil }
                return try OrphanTables.drop(targets, databasePath: tenant.databasePath, repository: repository, busyTimeout: timeout)
            }
        }
        let data =
            try dropped.map { try JSONValueEncoder().encode($0) }
            ?? .object([("dropped", .array([])), ("snapshot", .null), ("archive", .null)])
        let message = table.map { "Orphan table '\($0)' dropped successfully." } ?? "All orphan tables dropped successfully."
        return Envelope.success(data, message: message)
    }

    /// Eloquent's `timestamp` cast: Unix seconds.
    static func unixTime(_ value: SQLiteValue) -> JSONValue {
        if case .integer(let i) = value { return .int(i) }
        guard let text = value.stringValue, let seconds = AuthTokens.parseLaravel(text) else { return .null }
        return .int(seconds)
    }
}

/// A `collections` row as Eloquent serializes the model: JSON columns decoded, `is_system` a boolean.
enum CollectionRow {
    static func read(_ db: Database, id: String) throws -> JSONValue? {
        let statement = try db.prepare("SELECT * FROM \"collections\" WHERE \"id\" = ?")
        var out: JSONValue?
        try statement.forEachRow([.text(id)]) { row in
            var pairs: [(String, JSONValue)] = []
            for i in 0..<row.columnCount {
                let name = row.columnName(i)
                let value = row.value(i)
                switch name {
                case "fields", "api_rules", "indexes", "options":
                    pairs.append((name, value.stringValue.flatMap { try? JSONParser.parse($0) } ?? EloquentValue.json(value)))
                case "is_system":
                    pairs.append((name, .bool((value.int64Value ?? 0) != 0)))
                case "created_at", "updated_at", "schema_updated_at":
                    pairs.append((name, EloquentValue.date(value)))
                default:
                    pairs.append((name, EloquentValue.json(value)))
                }
            }
            out = .object(pairs)
        }
        return out
    }
}
