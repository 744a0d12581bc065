/// A JSON document that keeps everything it was given: object keys in their order, duplicate keys, and numbers
/// as their exact text. Used where velo must pass data through without losing or reordering it.
package enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number as its JSON text, e.g. `"12"`, `"-0.0"`, `"5e-324"`.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Key-value pairs in document order.
    case object([(String, JSONValue)])

    package static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value under `key` (the first one, when a key repeats), for objects.
    package subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self {
            return pairs.first(where: { $0.0 == key })?.1
        }
        return nil
    }

    package var isNull: Bool { if case .null = self { return true } else { return false } }

    package var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    package var boolValue: Bool? {
        switch self {
        case .bool(let b): return b
        case .number(let n): return n == "1" ? true : n == "0" ? false : nil
        default: return nil
        }
    }

    /// The number as an integer when it is one (PHP writes `min`/`max` as ints; strings holding ints are accepted).
    package var intValue: Int? {
        switch self {
        case .number(let n): return Int(n) ?? Double(n).flatMap { $0.rounded() == $0 ? Int(exactly: $0) : nil }
        case .string(let s): return Int(s)
        default: return nil
        }
    }

    package var doubleValue: Double? {
        if case .number(let n) = self { return Double(n) }
        return nil
    }

    package var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }

    package var objectValue: [(String, JSONValue)]? { if case .object(let o) = self { return o } else { return nil } }

    /// A short name of the JSON type, for error messages.
    package var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSONValue {
    /// Builds a number from an integer.
    package static func int<I: BinaryInteger>(_ value: I) -> JSONValue { .number(String(value)) }

    /// Builds a number from a double, using the shortest text that reads back to the same bits.
    package static func double(_ value: Double) -> JSONValue { .number(JSONNumberText.real(value)) }
}
