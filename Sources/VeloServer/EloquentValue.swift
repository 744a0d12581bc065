import VeloKit

/// A database value as Eloquent puts it in a JSON response: numbers as numbers, text as text, a blob as the
/// text of its bytes (what PHP's string holds).
enum EloquentValue {
    static func json(_ value: SQLiteValue) -> JSONValue {
        switch value {
        case .null: return .null
        case .integer(let i): return .int(i)
        case .real(let d): return .double(d)
        case .text(let s): return .string(s)
        case .blob(let b): return .string(String(decoding: b, as: UTF8.self))
        }
    }

    /// A datetime column as Veloquent's `HasUtcDates` serializes it: ISO 8601 with microseconds, UTC
    /// (`Y-m-d\TH:i:s.u\Z`); a value that is not Laravel's `Y-m-d H:i:s` as it is.
    static func date(_ value: SQLiteValue) -> JSONValue {
        guard let text = value.stringValue, let seconds = AuthTokens.parseLaravel(text) else { return json(value) }
        return .string(Timestamp.iso8601(seconds).replacingOccurrences(of: "Z", with: ".000000Z"))
    }
}
