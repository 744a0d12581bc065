import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo cat`: streams one table of a snapshot, named by table or by collection, as NDJSON objects (keys in
/// column order, values in the archive's lossless encoding) or as CSV.
package enum TableCat {
    package enum Format: String, Sendable, CaseIterable {
        case ndjson, csv
    }

    /// Finds the table: a table name in the snapshot, or the name of a collection (read from its metadata).
    package static func resolve(_ name: String, in snapshot: SelectedSnapshot, manifest: Manifest?) throws -> SnapshotHeader.Table {
        let reader = try SnapshotReader(snapshot, manifest: manifest)
        if let table = reader.header.tables.first(where: { $0.name == name }) { return table }
        var tableName: String?
        try reader.scan(tables: ["collections"], stopAfterTables: true) { table, line in
            let values = try RecordDecoder.decode(line)
            let row = Dictionary(zip(table.columns, values.map(\.sqliteValue)), uniquingKeysWith: { a, _ in a })
            if row["name"]?.stringValue == name { tableName = row["table_name"]?.stringValue; return false }
            return true
        }
        if let tableName, let table = reader.header.tables.first(where: { $0.name == tableName }) { return table }
        if let tableName {
            throw VeloError("\(snapshot.archiveLocation): the rows of collection \(name) (table \(tableName)) are not in this snapshot")
        }
        if reader.header.contents.excludedTables.contains(name) {
            throw VeloError("\(snapshot.archiveLocation): the rows of table \(name) were left out of this snapshot")
        }
        throw VeloError(
            "\(snapshot.archiveLocation): no table or collection named '\(name)'; tables: \(reader.header.tables.map(\.name).joined(separator: ", "))"
        )
    }

    /// Writes the table's rows to `output`; returns how many.
    @discardableResult
    package static func run(
        _ snapshot: SelectedSnapshot, table name: String, format: Format, manifest: Manifest?,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let table = try resolve(name, in: snapshot, manifest: manifest)
        let reader = try SnapshotReader(snapshot, manifest: manifest)
        let out = ByteBuffer(capacity: 256 * 1024)
        var keys: [[UInt8]] = []
        for (i, column) in table.columns.enumerated() {
            var writer = JSONWriter()
            writer.appendByte(i == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
            writer.writeString(column)
            writer.appendByte(UInt8(ascii: ":"))
            keys.append(writer.bytes)
        }
        if format == .csv {
            appendCSVRow(table.columns.map { .text(Array($0.utf8)) }, to: out)
        }
        var rows = 0
        try reader.scan(tables: [table.name], stopAfterTables: manifest != nil) { _, line in
            rows += 1
            switch format {
            case .ndjson:
                guard let ranges = RowValidator.valueRanges(in: line), ranges.count == keys.count else {
                    throw VeloError("\(snapshot.archiveLocation): table \(table.name), row \(rows): malformed row (run 'velo verify')")
                }
                if keys.isEmpty { out.append(UInt8(ascii: "{")) }
                for (key, range) in zip(keys, ranges) {
                    key.withUnsafeBytes { out.append($0) }
                    out.append(UnsafeRawBufferPointer(rebasing: line[range]))
                }
                out.append(UInt8(ascii: "}"))
                out.append(0x0A)
            case .csv:
                appendCSVRow(try RecordDecoder.decode(line), to: out)
            }
            if out.count >= 128 * 1024 {
                try output(out.bytes)
                out.removeAll()
            }
            return true
        }
        if out.count > 0 { try output(out.bytes) }
        return rows
    }

    /// RFC 4180: fields with a comma, quote, CR or LF are quoted, quotes doubled. NULL is an empty field,
    /// blobs are base64, reals use the archive's exact text.
    static func appendCSVRow(_ values: [RecordValue], to out: ByteBuffer) {
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            switch value {
            case .null: break
            case .integer(let n): out.append(Array(String(n).utf8))
            case .real(let d): RecordEncoder.appendReal(d, to: out)
            case .blob(let b): out.append(Array(Data(b).base64EncodedString().utf8))
            case .text(let t):
                if t.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
                    out.append(UInt8(ascii: "\""))
                    for byte in t {
                        if byte == 0x22 { out.append(0x22) }
                        out.append(byte)
                    }
                    out.append(UInt8(ascii: "\""))
                } else {
                    out.append(t)
                }
            }
        }
        out.append(0x0D)
        out.append(0x0A)
    }
}
