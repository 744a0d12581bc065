import VeloFormat
import VeloRepository
import VeloStorage

/// The shapes a field definition takes on its way through a transfer, as Veloquent's `Field` value object gives
/// them: the 18-property export shape (`(array) $field`), the stored shape (`Field::toArray`), and the system
/// fields each collection type reserves (`CollectionType::systemFields`).
enum TransferFieldShape {
    /// The type-specific keys and their defaults (`CollectionFieldType::typeProperties`), nil for a type velo
    /// does not know.
    static func typeProperties(_ type: String) -> [(String, JSONValue)]? {
        switch type {
        case "text", "email", "url": return [("min", .null), ("max", .null)]
        case "file":
            return [
                ("multiple", .bool(false)), ("min", .null), ("max", .null), ("max_size_kb", .null),
                ("allowed_mime_types", .array([])), ("protected", .bool(false)),
            ]
        case "longtext", "richtext", "boolean", "datetime", "date", "json": return []
        case "relation": return [("target_collection_id", .null), ("cascade_on_delete", .bool(false))]
        case "relation_many": return [("target_collection_id", .null), ("pivot_fields", .array([]))]
        case "number": return [("min", .null), ("max", .null), ("allow_decimals", .bool(false))]
        case "select": return [("options", .array([]))]
        default: return nil
        }
    }

    static func phpBool(_ v: JSONValue?) -> Bool {
        switch v {
        case .bool(let b)?: return b
        case .number(let n)?: return (Double(n) ?? 0) != 0
        case .string(let s)?: return !(s.isEmpty || s == "0")
        case .array(let a)?: return !a.isEmpty
        case .object(let o)?: return !o.isEmpty
        default: return false
        }
    }

    static func phpIntOrNull(_ v: JSONValue?) -> JSONValue {
        switch v {
        case nil, .null?: return .null
        case .number(let n)?: return .int(Int(n) ?? Int(Double(n) ?? 0))
        case .string(let s)?: return .int(Int(s) ?? Int(Double(s) ?? 0))
        case .bool(let b)?: return .int(b ? 1 : 0)
        default: return .int(1)
        }
    }

    static func phpStringOrNull(_ v: JSONValue?) -> JSONValue {
        switch v {
        case nil, .null?: return .null
        case .string?: return v!
        case .number(let n)?: return .string(n)
        case .bool(let b)?: return .string(b ? "1" : "")
        default: return .string(JSONWriter.string(v!))
        }
    }

    /// `Field::fromArray` over a stored (or imported) field object: every property with its PHP type, or nil
    /// when the type is unknown to velo (Veloquent itself would refuse it; velo passes it through as is).
    static func properties(_ field: JSONValue, mapTimestamp: Bool = true) -> [String: JSONValue]? {
        guard case .object(let pairs) = field else { return nil }
        var type = field["type"]?.stringValue ?? ""
        if mapTimestamp && type == "timestamp" { type = "datetime" }
        guard let typeKeys = typeProperties(type) else { return nil }
        var shape: [String: JSONValue] = ["order": .int(0), "nullable": .bool(false), "unique": .bool(false), "default": .null]
        for (k, v) in typeKeys { shape[k] = v }
        for (k, v) in pairs { shape[k] = v }
        shape["type"] = .string(type)
        var p: [String: JSONValue] = [:]
        p["name"] = phpStringOrNull(shape["name"]).stringValue.map { .string($0) } ?? .string("")
        p["type"] = .string(type)
        p["order"] = phpIntOrNull(shape["order"] ?? .int(0))
        if p["order"] == .null { p["order"] = .int(0) }
        p["nullable"] = .bool(phpBool(shape["nullable"]))
        p["unique"] = .bool(phpBool(shape["unique"]))
        p["default"] = shape["default"] ?? .null
        p["id"] = phpStringOrNull(shape["id"])
        p["min"] = phpIntOrNull(shape["min"])
        p["max"] = phpIntOrNull(shape["max"])
        p["multiple"] = .bool(phpBool(shape["multiple"]))
        p["max_size_kb"] = phpIntOrNull(shape["max_size_kb"])
        p["allowed_mime_types"] = .array(
            (shape["allowed_mime_types"]?.arrayValue ?? []).filter {
                guard let s = $0.stringValue else { return false }
                return !s.trimmingCharacters(in: .whitespaces).isEmpty
            })
        p["protected"] = .bool(phpBool(shape["protected"]))
        p["target_collection_id"] = phpStringOrNull(shape["target_collection_id"])
        p["cascade_on_delete"] = .bool(phpBool(shape["cascade_on_delete"]))
        switch shape["allow_decimals"] {
        case nil, .null?: p["allow_decimals"] = .null
        case let v?: p["allow_decimals"] = .bool(phpBool(v))
        }
        p["options"] = phpArray(shape["options"])
        p["pivot_fields"] = phpArray(shape["pivot_fields"])
        return p
    }

    /// `(array) $value` for JSON: arrays and objects stay, null is empty, a scalar becomes a one-element list.
    static func phpArray(_ v: JSONValue?) -> JSONValue {
        switch v {
        case nil, .null?: return .array([])
        case .array?, .object?: return v!
        default: return .array([v!])
        }
    }

    /// The exported shape of a stored field: all 18 properties in declaration order. An unknown type is passed
    /// through with its stored keys.
    static func exported(_ field: JSONValue) -> JSONValue {
        guard let p = properties(field, mapTimestamp: true) else { return field }
        return .object(TransferPayload.fieldProperties.map { ($0, p[$0] ?? .null) })
    }

    /// The stored shape (`Field::toArray`): id, name, type, order, nullable, unique, the type's keys, then
    /// default (none for file). An unknown type keeps its keys as given.
    static func stored(_ field: JSONValue) -> JSONValue {
        guard let p = properties(field), let type = p["type"]?.stringValue, let typeKeys = typeProperties(type) else { return field }
        let allowed = Set(typeKeys.map(\.0))
        var pairs: [(String, JSONValue)] = ["id", "name", "type", "order", "nullable", "unique"].map { ($0, p[$0] ?? .null) }
        for key in [
            "min", "max", "multiple", "max_size_kb", "allowed_mime_types", "protected", "target_collection_id",
            "cascade_on_delete", "allow_decimals", "options", "pivot_fields",
        ] where allowed.contains(key) {
            pairs.append((key, p[key] ?? .null))
        }
        if type != "file" { pairs.append(("default", p["default"] ?? .null)) }
        return .object(pairs)
    }

    /// Replaces (or adds) one key of a field object, keeping the others in place.
    static func setting(_ key: String, to value: JSONValue, in field: JSONValue) -> JSONValue {
        guard case .object(var pairs) = field else { return field }
        if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = value } else { pairs.append((key, value)) }
        return .object(pairs)
    }

    /// The field names a collection type reserves (`CollectionType::reservedFields`); unknown types are base.
    static func reservedNames(_ type: String) -> [String] {
        systemFieldSpecs(type).map(\.name)
    }

    private struct Spec {
        var name: String
        var type: String
        var nullable: Bool
        var unique: Bool
        var extra: [(String, JSONValue)] = []
    }

    private static func systemFieldSpecs(_ type: String) -> [Spec] {
        let base = [
            Spec(name: "id", type: "text", nullable: false, unique: true),
            Spec(name: "created_at", type: "datetime", nullable: false, unique: false),
            Spec(name: "updated_at", type: "datetime", nullable: false, unique: false),
        ]
        switch type {
        case "auth":
            return base + [
                Spec(name: "email", type: "email", nullable: false, unique: true),
                Spec(name: "password", type: "text", nullable: false, unique: false),
                Spec(name: "email_visibility", type: "boolean", nullable: true, unique: false, extra: [("default", .bool(true))]),
                Spec(name: "verified", type: "boolean", nullable: true, unique: false, extra: [("default", .bool(false))]),
            ]
        case "agents":
            return base + [
                Spec(name: "name", type: "text", nullable: false, unique: true),
                Spec(
                    name: "type", type: "select", nullable: true, unique: false,
                    extra: [("options", .array([.string("regular"), .string("watcher")])), ("default", .string("regular"))]),
                Spec(name: "system_prompt", type: "longtext", nullable: true, unique: false),
                Spec(name: "model", type: "text", nullable: true, unique: false),
                Spec(
                    name: "temperature", type: "number", nullable: true, unique: false,
                    extra: [("allow_decimals", .bool(true)), ("min", .int(0)), ("max", .int(1))]),
                Spec(name: "tone", type: "text", nullable: true, unique: false),
                Spec(name: "length", type: "text", nullable: true, unique: false),
                Spec(
                    name: "output_type", type: "select", nullable: true, unique: false,
                    extra: [("options", .array([.string("text"), .string("json")]))]),
                Spec(name: "schema", type: "json", nullable: true, unique: false),
                Spec(name: "watcher_message", type: "text", nullable: true, unique: false),
                Spec(
                    name: "watchers", type: "relation_many", nullable: true, unique: false,
                    extra: [("target_collection_id", .string("@self"))]),
            ]
        default:
            return base
        }
    }

    /// The stored system fields of a new collection of `type`, with fresh ids: (leading, trailing), i.e. `id`
    /// and the type's own fields before the user's fields, `created_at` and `updated_at` after them.
    static func systemFields(_ type: String, newID: () -> String) -> (leading: [JSONValue], trailing: [JSONValue]) {
        func make(_ s: Spec) -> JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("id", .string(newID())), ("name", .string(s.name)), ("type", .string(s.type)),
                ("nullable", .bool(s.nullable)), ("unique", .bool(s.unique)),
            ]
            pairs += s.extra
            return stored(.object(pairs))
        }
        let specs = systemFieldSpecs(type)
        let trailingNames: Set<String> = ["created_at", "updated_at"]
        return (specs.filter { !trailingNames.contains($0.name) }.map(make), specs.filter { trailingNames.contains($0.name) }.map(make))
    }
}
