/// One field definition from `collections.fields`, read leniently: missing keys take Veloquent's defaults,
/// unknown keys stay in `raw`, so the definition passes through velo unchanged.
package struct Field: Equatable, Sendable {
    /// The 8-hex field id; nil in rows written by raw migration inserts (`otps`, `oauth`).
    package var id: String?
    package var name: String
    package var type: FieldType
    /// `order`, when present (the `superusers` row has none).
    package var order: Int?
    package var nullable: Bool
    package var unique: Bool
    /// The `default` key's value, or nil when the key is absent.
    package var defaultValue: JSONValue?
    /// For `relation` and `relation_many`: the target collection's id.
    package var targetCollectionID: String?
    package var cascadeOnDelete: Bool
    /// For `relation_many`: extra columns of the pivot table.
    package var pivotFields: [Field]
    /// For `select`: the allowed options.
    package var options: [String]
    /// The field object exactly as stored.
    package var raw: JSONValue

    /// Reads one field object. Throws `ModelError.badField` when it is not an object or has no name.
    package init(json: JSONValue) throws {
        guard case .object = json else {
            throw ModelError.badField("a field is a JSON \(json.typeName), not an object")
        }
        guard let name = json["name"]?.stringValue, !name.isEmpty else {
            throw ModelError.badField("a field has no name")
        }
        raw = json
        self.name = name
        id = json["id"]?.stringValue
        type = FieldType(name: json["type"]?.stringValue ?? "text")
        order = json["order"]?.intValue
        nullable = json["nullable"]?.boolValue ?? false
        unique = json["unique"]?.boolValue ?? false
        defaultValue = json["default"]
        targetCollectionID = json["target_collection_id"]?.stringValue
        cascadeOnDelete = json["cascade_on_delete"]?.boolValue ?? false
        pivotFields = try (json["pivot_fields"]?.arrayValue ?? []).map { try Field(json: $0) }
        options = (json["options"]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    /// The column this field occupies, when it has one.
    package var hasColumn: Bool { type != .relationMany }

    /// The field names every collection type reserves (`CollectionType::systemFields`), besides the user's.
    package static func isStandardColumn(_ name: String) -> Bool {
        name == "id" || name == "created_at" || name == "updated_at"
    }

    /// The SQL `DEFAULT` clause value Laravel writes for this field's default, or nil for no default.
    /// Booleans are written as `'0'`/`'1'`, everything else as its text.
    package var sqlDefaultLiteral: String? {
        guard let value = defaultValue else { return nil }
        switch value {
        case .null: return nil
        case .bool(let b): return SQL.literal(b ? "1" : "0")
        case .number(let n): return SQL.literal(n)
        case .string(let s): return SQL.literal(s)
        case .array, .object: return SQL.literal(JSONWriter.string(value))
        }
    }
}
