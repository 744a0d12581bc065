import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Finds an archive row's counterpart in the target by primary key and tells whether it is identical: the target
/// row is encoded exactly as the archive encodes rows and the bytes are compared.
final class RowMatcher {
    enum Match { case absent, identical, different }

    let table: String
    let columns: [String]
    /// Positions of the primary-key columns among `columns`; empty when the table has no usable key.
    let keyPositions: [Int]
    private let lookup: Statement?
    private let encoder: RecordEncoder
    private let scratch = ByteBuffer(capacity: 4096)

    /// - Parameters:
    ///   - columns: the archive's columns of the table.
    ///   - substitutes: for archive columns the target lacks yet and the restore adds, the value every existing
    ///     row will read once the column is added (its default): the row is compared as it will be then.
    init(target: Database, table: String, columns: [String], primaryKey: [String], substitutes: [String: RecordValue] = [:]) throws {
        self.table = table
        self.columns = columns
        let positions = primaryKey.compactMap { columns.firstIndex(of: $0) }
        keyPositions = positions.count == primaryKey.count ? positions : []
        encoder = RecordEncoder(columnCount: columns.count)
        if keyPositions.isEmpty {
            lookup = nil
        } else {
            let condition = keyPositions.enumerated().map { "\(SQL.quote(columns[$0.element])) = ?\($0.offset + 1)" }.joined(
                separator: " AND ")
            var bound: [RecordValue] = []
            let keyCount = positions.count
            let expressions = columns.map { name -> String in
                guard let value = substitutes[name] else { return SQL.quote(name) }
                bound.append(value)
                return "?\(keyCount + bound.count)"
            }
            let statement = try target.prepare("SELECT \(expressions.joined(separator: ", ")) FROM \(SQL.quote(table)) WHERE \(condition)")
            // Bindings survive resets: the substitutes are bound once.
            for (i, value) in bound.enumerated() { try value.bind(to: statement, at: Int32(keyCount + i + 1)) }
            lookup = statement
        }
    }

    /// A key for people: the values joined with commas.
    static func display(_ key: [RecordValue]) -> String {
        key.map { value -> String in
            switch value.sqliteValue {
            case .text(let s): return s
            case .integer(let i): return String(i)
            case .real(let d): return String(d)
            case .null: return "NULL"
            case .blob(let b): return "x'" + b.map { String(format: "%02x", $0) }.joined() + "'"
            }
        }.joined(separator: ",")
    }

    func match(_ line: UnsafeRawBufferPointer, key: [RecordValue]) throws -> Match {
        guard let lookup else { return .absent }
        lookup.reset()
        for (i, value) in key.enumerated() { try value.bind(to: lookup, at: Int32(i + 1)) }
        guard try lookup.step() else { return .absent }
        scratch.removeAll()
        encoder.appendRow(of: lookup, to: scratch)
        let same = scratch.count == line.count + 1 && (line.count == 0 || memcmp(scratch.base, line.baseAddress!, line.count) == 0)
        lookup.reset()
        return same ? .identical : .different
    }
}
