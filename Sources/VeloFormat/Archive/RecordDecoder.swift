import Foundation

/// One value read back from an archive row, with its storage class. Text is kept as bytes so that text which
/// is not valid UTF-8 (`{"$text":...}`) comes back exactly.
package enum RecordValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text([UInt8])
    case blob([UInt8])

    /// The value as an SQLite value (text that is not valid UTF-8 is repaired; use `bind` to keep it exact).
    package var sqliteValue: SQLiteValue {
        switch self {
        case .null: return .null
        case .integer(let i): return .integer(i)
        case .real(let d): return .real(d)
        case .text(let t): return .text(String(decoding: t, as: UTF8.self))
        case .blob(let b): return .blob(b)
        }
    }

    /// Binds the exact value to a statement parameter.
    package func bind(to statement: Statement, at index: Int32) throws {
        switch self {
        case .null: try statement.bindNull(at: index)
        case .integer(let i): try statement.bind(i, at: index)
        case .real(let d): try statement.bind(d, at: index)
        case .text(let t): try t.withUnsafeBytes { try statement.bindText($0, at: index) }
        case .blob(let b): try b.withUnsafeBytes { try statement.bindBlob($0, at: index) }
        }
    }

    package func isIdentical(to other: RecordValue) -> Bool {
        if case .real(let a) = self, case .real(let b) = other { return a.bitPattern == b.bitPattern }
        return self == other
    }
}

/// Reads rows written by `RecordEncoder`.
package enum RecordDecoder {
    /// Why a row line cannot be read.
    package struct Problem: VeloFailure {
        package var kind: ErrorKind { .damaged }
        package let reason: String
        package var description: String { reason }
    }

    /// Decodes one row line into its values, in column order.
    package static func decode(_ line: UnsafeRawBufferPointer) throws -> [RecordValue] {
        let json: JSONValue
        do { json = try JSONParser.parse(line) } catch { throw Problem(reason: "\(error)") }
        guard case .array(let items) = json else { throw Problem(reason: "a row is a JSON \(json.typeName), not an array") }
        return try items.enumerated().map { try value($0.element, column: "\($0.offset + 1)") }
    }

    package static func decode(_ line: [UInt8]) throws -> [RecordValue] {
        try line.withUnsafeBytes { try decode($0) }
    }

    /// Turns one JSON value of a row into its SQLite value.
    package static func value(_ json: JSONValue, column: String) throws -> RecordValue {
        switch json {
        case .null: return .null
        case .bool(let b): return .integer(b ? 1 : 0)
        case .string(let s): return .text(Array(s.utf8))
        case .number(let n):
            if !n.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let i = Int64(n) { return .integer(i) }
            guard let d = Double(n) else { throw Problem(reason: "column \(column): number \(n) is out of range") }
            return .real(d)
        case .object(let pairs) where pairs.count == 1:
            let (marker, inner) = pairs[0]
            guard let text = inner.stringValue else { break }
            switch marker {
            case "$blob", "$text":
                guard let data = Data(base64Encoded: text) else {
                    throw Problem(reason: "column \(column): \(marker) is not valid base64")
                }
                return marker == "$blob" ? .blob(Array(data)) : .text(Array(data))
            case "$real":
                switch text {
                case "inf": return .real(.infinity)
                case "-inf": return .real(-.infinity)
                case "nan": return .real(.nan)
                default: throw Problem(reason: "column \(column): unknown $real value '\(text)'")
                }
            default: break
            }
        default: break
        }
        throw Problem(reason: "column \(column): a \(json.typeName) is not a value of format version 1")
    }
}
