/// A Veloquent field type (`CollectionFieldType`), with the SQLite column each one maps to.
package enum FieldType: Equatable, Hashable, Sendable {
    case text, email, url, number, boolean, datetime, date, json, file
    case relation, relationMany, select, longtext, richtext
    /// A type this version of velo does not know; kept by name so nothing is lost.
    case unknown(String)

    /// Reads a stored type name. `timestamp`, the name before 2026-05-02, reads as `datetime`, as Veloquent does.
    package init(name: String) {
        switch name {
        case "text": self = .text
        case "email": self = .email
        case "url": self = .url
        case "number": self = .number
        case "boolean": self = .boolean
        case "datetime", "timestamp": self = .datetime
        case "date": self = .date
        case "json": self = .json
        case "file": self = .file
        case "relation": self = .relation
        case "relation_many": self = .relationMany
        case "select": self = .select
        case "longtext": self = .longtext
        case "richtext": self = .richtext
        default: self = .unknown(name)
        }
    }

    /// The name Veloquent stores.
    package var name: String {
        switch self {
        case .text: return "text"
        case .email: return "email"
        case .url: return "url"
        case .number: return "number"
        case .boolean: return "boolean"
        case .datetime: return "datetime"
        case .date: return "date"
        case .json: return "json"
        case .file: return "file"
        case .relation: return "relation"
        case .relationMany: return "relation_many"
        case .select: return "select"
        case .longtext: return "longtext"
        case .richtext: return "richtext"
        case .unknown(let n): return n
        }
    }

    /// The column type Laravel's SQLite grammar declares for this field (`SchemaDDLService::columnBlueprint`),
    /// or nil for `relation_many`, which has a pivot table instead of a column.
    package var sqliteColumnType: String? {
        switch self {
        case .text, .email, .select, .relation: return "varchar"
        case .longtext, .richtext, .url, .json, .file: return "text"
        case .number: return "float"
        case .boolean: return "tinyint(1)"
        case .datetime: return "datetime"
        case .date: return "date"
        case .relationMany: return nil
        case .unknown: return nil
        }
    }

    /// The column type of a `pivot_fields` entry in a pivot table (`createPivotTable`).
    package var pivotColumnType: String {
        switch self {
        case .number: return "double"
        case .boolean: return "tinyint(1)"
        case .datetime: return "datetime"
        case .json, .longtext: return "text"
        case .select: return "varchar"
        default: return "text"
        }
    }

    /// Whether Veloquent allows an index on a field of this type.
    package var isIndexable: Bool {
        switch self {
        case .json, .longtext, .url, .file, .relationMany, .richtext: return false
        default: return true
        }
    }
}
