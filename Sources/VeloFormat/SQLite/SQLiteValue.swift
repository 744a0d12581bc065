/// One SQLite value in one of the five storage classes. Text keeps exactly what SQLite stored, NUL bytes included.
package enum SQLiteValue: Equatable, Hashable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The storage class, as `typeof()` names it.
    package var storageClass: StorageClass {
        switch self {
        case .null: return .null
        case .integer: return .integer
        case .real: return .real
        case .text: return .text
        case .blob: return .blob
        }
    }

    package var isNull: Bool { self == .null }

    /// The value as text when it is text; nil otherwise.
    package var stringValue: String? {
        if case .text(let s) = self { return s }
        return nil
    }

    /// The value as an integer when it is an integer (or a real with an integral value).
    package var int64Value: Int64? {
        switch self {
        case .integer(let i): return i
        case .real(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        case .text(let s): return Int64(s)
        default: return nil
        }
    }

    /// Compares two values bit for bit: `-0.0` differs from `0.0`, and NaN equals NaN with the same bits.
    package func isIdentical(to other: SQLiteValue) -> Bool {
        switch (self, other) {
        case (.real(let a), .real(let b)): return a.bitPattern == b.bitPattern
        default: return self == other
        }
    }
}

/// SQLite's five storage classes.
package enum StorageClass: String, Sendable, Codable {
    case null, integer, real, text, blob
}
