/// One row of the landlord's `tenants` table: a tenant and where its database lives.
package struct Tenant: Equatable, Sendable, Codable {
    package var id: Int64
    package var name: String
    package var domain: String?
    /// The tenant database: for SQLite, the absolute path of its file; nil in single-tenant mode.
    package var database: String?

    package init(id: Int64, name: String, domain: String? = nil, database: String? = nil) {
        self.id = id
        self.name = name
        self.domain = domain
        self.database = database
    }
}

/// Reads the landlord side of a database: the tenants it lists.
package enum Landlord {
    /// The tenants in `tenants`, by id; empty when the table is absent.
    package static func tenants(in database: Database, schema: SQLiteSchema) throws -> [Tenant] {
        guard let table = schema.table("tenants") else { return [] }
        let has = Set(table.columns.map(\.name))
        let name = has.contains("name") ? "\"name\"" : "NULL"
        let domain = has.contains("domain") ? "\"domain\"" : "NULL"
        let db = has.contains("database") ? "\"database\"" : "NULL"
        let order = has.contains("id") ? "\"id\"" : "rowid"
        var result: [Tenant] = []
        try database.prepare("SELECT \(order), \(name), \(domain), \(db) FROM \"tenants\" ORDER BY \(order)").forEachRow { row in
            result.append(
                Tenant(id: row.int64(0), name: row.optionalString(1) ?? "", domain: row.optionalString(2), database: row.optionalString(3)))
        }
        return result
    }
}
