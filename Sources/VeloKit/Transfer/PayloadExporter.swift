import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Veloquent's schema-transfer export (`SchemaTransferService::export`, `options`), streamed: the same JSON value
/// Veloquent builds in memory (keys, key order, value types), written row by row from a frozen database, so a
/// database of any size exports in bounded memory.
package enum PayloadExporter {
    package struct Options: Sendable {
        /// Collection names to export; nil for every non-system collection (Veloquent exports only those named).
        package var collections: [String]?
        /// System tables to export; each must be in the allow-list.
        package var systemTables: [String] = []
        package var includeRecords = true
        /// `exported_at`; default now.
        package var exportedAt: Int64?

        package init() {}
    }

    /// What an export wrote.
    package struct Summary: Sendable {
        /// Rows per table, in payload order.
        package var tables: [(table: String, rows: Int)] = []
        /// Collection names asked for that the database does not have (Veloquent ignores them too).
        package var unknownCollections: [String] = []
        package var bytes: Int64 = 0
    }

    /// Veloquent's `options` data: the non-system collections by name, and the allow-list.
    package static func options(_ layout: TenantDatabase) -> JSONValue {
        let collections = layout.collections.filter { !$0.isSystem }.sorted {
            Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8))
        }
        return .object([
            (
                "collections",
                .array(
                    collections.map { c in
                        .object([
                            ("id", .string(c.id)), ("name", .string(c.name)), ("table_name", .string(c.tableName)),
                            ("is_system", .bool(c.isSystem)),
                        ])
                    })
            ),
            ("system_tables", .array(TransferPayload.allowedSystemTables.map { .string($0) })),
        ])
    }

    /// `exported_at` as Carbon's `toIso8601String()` writes it in UTC: `2026-06-30T15:04:05+00:00`.
    package static func iso8601(_ seconds: Int64) -> String {
        Timestamp.format(seconds).replacingOccurrences(of: " ", with: "T") + "+00:00"
    }

    /// The exported metadata entry of a collection: id, type, is_system, name, description, fields (all 18
    /// properties each), api_rules, indexes, options.
    package static func metadataEntry(_ c: CollectionMetadata) -> JSONValue {
        .object([
            ("id", .string(c.id)),
            ("type", .string(c.type.name)),
            ("is_system", .bool(c.isSystem)),
            ("name", .string(c.name)),
            ("description", c.description.map { .string($0) } ?? .null),
            ("fields", .array(c.fields.map { TransferFieldShape.exported($0.raw) })),
            ("api_rules", c.apiRules ?? .null),
            (
                "indexes",
                .array(
                    c.indexes.map { .object([("columns", .array($0.columns.map { .string($0) })), ("type", .string($0.kind.rawValue))]) })
            ),
            ("options", c.options ?? .null),
        ])
    }

    /// Writes the payload of `database` (laid out as `layout`) into `output`. Errors match Veloquent's: a system
    /// table outside the allow-list, a table that does not exist. Nothing is written before they are checked.
    package static func export(
        database: Database, layout: TenantDatabase, options: Options, to output: PayloadOutput,
        progress: (any ProgressObserver)? = nil
    ) throws -> Summary {
        let allowed = TransferPayload.allowedSystemTables
        for table in options.systemTables where !allowed.contains(table) {
            throw VeloError(TransferPayload.notAllowed(table))
        }
        var summary = Summary()
        let selected: [CollectionMetadata]
        if let names = options.collections {
            let wanted = Set(names)
            selected = layout.collections.filter { wanted.contains($0.name) }
            summary.unknownCollections = names.filter { n in !layout.collections.contains { $0.name == n } }
        } else {
            selected = layout.collections.filter { !$0.isSystem }
        }
        let ordered = selected.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        // The tables in payload order, checked before the first byte is written.
        var tables: [String] = []
        if options.includeRecords {
            let byID = Dictionary(layout.collections.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for c in ordered {
                guard layout.schema.table(c.tableName) != nil else { throw VeloError(TransferPayload.doesNotExist(c.tableName)) }
                if !tables.contains(c.tableName) { tables.append(c.tableName) }
                for field in c.relationManyFields {
                    guard let id = field.targetCollectionID, !id.isEmpty, let target = byID[id] else { continue }
                    let pivot = PivotTable.name(c.name, target.name, field: field.name, prefix: layout.prefix)
                    if layout.schema.table(pivot) != nil && !tables.contains(pivot) { tables.append(pivot) }
                }
            }
            for table in options.systemTables where !tables.contains(table) {
                guard layout.schema.table(table) != nil else { throw VeloError(TransferPayload.doesNotExist(table)) }
                tables.append(table)
            }
        }
        var head = JSONWriter()
        head.appendRaw(Array("{\"version\":1,\"exported_at\":".utf8))
        head.writeString(iso8601(options.exportedAt ?? Timestamp.now))
        head.appendRaw(Array(",\"metadata\":{\"collections\":".utf8))
        head.write(.array(ordered.map(metadataEntry)))
        head.appendByte(UInt8(ascii: "}"))
        head.bytes.withUnsafeBytes { output.buffer.append($0) }
        if options.includeRecords {
            // PHP encodes an empty array as `[]`.
            output.append(tables.isEmpty ? ",\"records\":[" : ",\"records\":{")
            for (i, table) in tables.enumerated() {
                if i > 0 { output.buffer.append(UInt8(ascii: ",")) }
                var key = JSONWriter()
                key.writeString(table)
                key.appendByte(UInt8(ascii: ":"))
                key.bytes.withUnsafeBytes { output.buffer.append($0) }
                summary.tables.append((table, try writeRows(of: table, database: database, to: output, progress: progress)))
            }
            output.buffer.append(UInt8(ascii: tables.isEmpty ? "]" : "}"))
        }
        output.append("}\n")
        try output.flush()
        progress?.finish()
        summary.bytes = output.bytesWritten
        return summary
    }

    /// Writes `[{...},...]`: every row of `table` as `DB::table($t)->get()` gives it under SQLite (columns in
    /// table order; integers, reals, text and null as they are stored).
    static func writeRows(
        of table: String, database: Database, to output: PayloadOutput, progress: (any ProgressObserver)? = nil
    ) throws -> Int {
        let statement = try database.prepare("SELECT * FROM \(SQL.quote(table))")
        let count = statement.columnCount
        let keys: [[UInt8]] = (0..<count).map { i in
            var w = JSONWriter()
            w.writeString(statement.columnName(i))
            w.appendByte(UInt8(ascii: ":"))
            return w.bytes
        }
        let idColumn = (0..<count).first { statement.columnName($0) == "id" }
        let out = output.buffer
        out.append(UInt8(ascii: "["))
        var rows = 0
        while try statement.step() {
            if rows > 0 { out.append(UInt8(ascii: ",")) }
            rows += 1
            if rows & 4095 == 0 {
                try Interruption.check()
                progress?.update(rows, detail: table)
            }
            out.append(UInt8(ascii: "{"))
            for i in 0..<count {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                keys[Int(i)].withUnsafeBytes { out.append($0) }
                switch statement.storageClass(i) {
                case .null: nullBytes.withUnsafeBytes { out.append($0) }
                case .integer: appendInteger(statement.int64(i), to: out)
                case .real:
                    let d = statement.double(i)
                    guard d.isFinite else { throw badValue(table, rows, i, statement, idColumn, "a non-finite real has no JSON form") }
                    out.append(Array(JSONNumberText.real(d).utf8))
                case .text:
                    let mark = out.count
                    let ok = statement.withTextBytes(i) { JSONEscaping.appendValidatedString($0, to: out) }
                    if !ok {
                        out.truncate(to: mark)
                        throw badValue(table, rows, i, statement, idColumn, "the text is not UTF-8, which JSON cannot carry")
                    }
                case .blob:
                    throw badValue(table, rows, i, statement, idColumn, "a blob has no JSON form in Veloquent's payload")
                }
            }
            out.append(UInt8(ascii: "}"))
            try output.flushIfNeeded()
        }
        out.append(UInt8(ascii: "]"))
        return rows
    }

    static let nullBytes: [UInt8] = Array("null".utf8)

    /// Appends the decimal digits of `value`.
    @inline(__always)
    static func appendInteger(_ value: Int64, to out: ByteBuffer) {
        if value == Int64.min { out.append(Array(String(value).utf8)); return }
        var v = value < 0 ? -value : value
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[23 - n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            if value < 0 { raw[23 - n] = UInt8(ascii: "-"); n += 1 }
            out.append(UnsafeRawBufferPointer(rebasing: raw[(24 - n)...]))
        }
    }

    static func badValue(
        _ table: String, _ row: Int, _ column: Int32, _ statement: Statement, _ idColumn: Int32?, _ reason: String
    ) -> VeloError {
        let id =
            idColumn.map { c -> String in
                let v = statement.value(c); return " (id \(v.stringValue ?? v.int64Value.map(String.init) ?? "?"))"
            } ?? ""
        return VeloError(
            "\(statement.database.path): table \(table), row \(row)\(id), column \(statement.columnName(column)): \(reason); nothing was exported"
        )
    }
}
