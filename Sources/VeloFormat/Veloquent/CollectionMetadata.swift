/// The kind of a collection (`CollectionType`).
package enum CollectionType: Equatable, Hashable, Sendable {
    case base, auth, agents
    case unknown(String)

    package init(name: String) {
        switch name {
        case "base": self = .base
        case "auth": self = .auth
        case "agents": self = .agents
        default: self = .unknown(name)
        }
    }

    package var name: String {
        switch self {
        case .base: return "base"
        case .auth: return "auth"
        case .agents: return "agents"
        case .unknown(let n): return n
        }
    }
}

/// One row of the `collections` table: a collection's definition. Every column is also kept verbatim in
/// `columns` (unknown ones included), so a row can be written back exactly as it was read.
package struct CollectionMetadata: Equatable, Sendable {
    /// Veloquent's default `collection_prefix` for user collection tables.
    package static let defaultPrefix = "_velo_"

    package var id: String
    package var type: CollectionType
    package var isSystem: Bool
    /// The API name.
    package var name: String
    /// The physical table; never derived from `name` (renames keep the old table).
    package var tableName: String
    package var description: String?
    package var fields: [Field]
    package var apiRules: JSONValue?
    package var indexes: [IndexSpec]
    package var options: JSONValue?
    package var schemaUpdatedAt: String?
    package var createdAt: String?
    package var updatedAt: String?
    /// All columns of the row, in table order, with their stored values.
    package var columns: [(name: String, value: SQLiteValue)]

    package static func == (lhs: CollectionMetadata, rhs: CollectionMetadata) -> Bool {
        lhs.id == rhs.id && lhs.columns.count == rhs.columns.count
            && zip(lhs.columns, rhs.columns).allSatisfy { $0.name == $1.name && $0.value.isIdentical(to: $1.value) }
    }

    /// Reads a row given as (column, value) pairs. `path` names the file in errors.
    package init(columns: [(name: String, value: SQLiteValue)], path: String) throws {
        self.columns = columns
        func value(_ column: String) -> SQLiteValue {
            columns.first(where: { $0.name == column })?.value ?? .null
        }
        func text(_ column: String) -> String? {
            switch value(column) {
            case .text(let s): return s
            case .integer(let i): return String(i)
            case .real(let d): return String(d)
            default: return nil
            }
        }
        let id = text("id") ?? ""
        let name = text("name") ?? id
        self.id = id
        self.name = name
        tableName = text("table_name") ?? ""
        type = CollectionType(name: text("type") ?? "base")
        isSystem = value("is_system").int64Value.map { $0 != 0 } ?? false
        description = text("description")
        schemaUpdatedAt = text("schema_updated_at")
        createdAt = text("created_at")
        updatedAt = text("updated_at")

        func json(_ column: String) throws -> JSONValue? {
            guard let raw = text(column), !raw.isEmpty else { return nil }
            do {
                return try JSONParser.parse(raw)
            } catch {
                throw ModelError.badCollectionRow(path: path, collection: name, column: column, reason: "\(error)")
            }
        }
        do {
            let fieldsJSON = try json("fields")
            switch fieldsJSON {
            case nil, .null?: fields = []
            case .array(let items)?: fields = try items.map { try Field(json: $0) }
            case let other?: throw ModelError.badField("expected a JSON array, found \(other.typeName)")
            }
            let indexesJSON = try json("indexes")
            switch indexesJSON {
            case nil, .null?: indexes = []
            case .array(let items)?: indexes = try items.map { try IndexSpec(json: $0) }
            // PHP encodes an empty array as [] but an empty object as {}; both mean "no indexes".
            case .object(let pairs)? where pairs.isEmpty: indexes = []
            case let other?: throw ModelError.badIndex("expected a JSON array, found \(other.typeName)")
            }
        } catch ModelError.badField(let reason) {
            throw ModelError.badCollectionRow(path: path, collection: name, column: "fields", reason: reason)
        } catch ModelError.badIndex(let reason) {
            throw ModelError.badCollectionRow(path: path, collection: name, column: "indexes", reason: reason)
        }
        apiRules = try json("api_rules")
        options = try json("options")
    }

    /// The fields that have a column in the collection's table, in stored order.
    package var columnFields: [Field] { fields.filter(\.hasColumn) }

    /// The relation_many fields, each of which owns a pivot table.
    package var relationManyFields: [Field] { fields.filter { $0.type == .relationMany } }

    /// The physical indexes the metadata asks for, by name.
    package var managedIndexNames: [String] { indexes.map { $0.physicalName(table: tableName) } }
}
