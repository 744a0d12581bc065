import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Reads a transfer payload file in one streaming pass: the bare payload, Veloquent's response envelope
/// `{"message","data"}` or the request body `{"payload","conflict"}`. The header (version, `exported_at`,
/// `metadata`) is small and read whole; the records are handed over one row at a time, never held.
/// Every error is one line naming the file and the place (`records.posts row 12 (id ...)`, or a byte offset).
package struct PayloadReader {
    /// The default limit of one string in a payload: larger values are refused, naming the table and row.
    package static let defaultMaxStringBytes = 64 << 20

    package let path: String
    package var maxStringBytes = PayloadReader.defaultMaxStringBytes

    package init(path: String) { self.path = path }

    /// What the records pass is told.
    package protocol RecordsSink {
        /// A table's rows begin. `index` counts tables from 0.
        mutating func beginTable(_ table: String) throws
        /// One row (column, value) in payload order; `row` counts from 1.
        mutating func row(_ table: String, _ row: Int, _ values: [(String, JSONValue)]) throws
        mutating func endTable(_ table: String) throws
    }

    /// Reads everything but the records (which are skipped), and stops early once `metadata` and `records`
    /// were both seen.
    package func readHeader() throws -> TransferPayload {
        var payload = TransferPayload()
        var sink = NoSink()
        try read(header: &payload, sink: &sink, headerOnly: true)
        if let version = payload.version, version != TransferPayload.version {
            throw VeloError(
                "\(path): payload version \(version); velo reads version \(TransferPayload.version) (Veloquent's schema transfer)")
        }
        return payload
    }

    /// Streams the records into `sink`. Returns the request body's `conflict`, wherever it was.
    @discardableResult
    package func readRecords<S: RecordsSink>(into sink: inout S) throws -> String? {
        var payload = TransferPayload()
        try read(header: &payload, sink: &sink, headerOnly: false)
        return payload.conflict
    }

    private struct NoSink: RecordsSink {
        mutating func beginTable(_ table: String) throws {}
        mutating func row(_ table: String, _ row: Int, _ values: [(String, JSONValue)]) throws {}
        mutating func endTable(_ table: String) throws {}
    }

    private func read<S: RecordsSink>(header payload: inout TransferPayload, sink: inout S, headerOnly: Bool) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VeloError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { throw VeloError("\(path): is a directory, not a payload file") }
        let tokens = JSONTokenizer(fd: fd, maxStringBytes: maxStringBytes)
        var place = PayloadPlace("the top level")
        do {
            let first = try tokens.next()
            guard first == .beginObject else {
                if first == .end { throw VeloError("\(path): an empty file, not a transfer payload") }
                throw VeloError("\(path): not a transfer payload: the document is a JSON \(name(first)), not an object")
            }
            var sawMetadata = false, sawRecords = false
            var wrapped = false
            // Keys of the top-level object; a `data` or `payload` object is the payload itself.
            topLevel: while true {
                let t = try tokens.next()
                if t == .endObject { break }
                let key = tokens.string
                let v = try tokens.next()
                switch key {
                case "data" where v == .beginObject && !wrapped, "payload" where v == .beginObject && !wrapped:
                    wrapped = true
                    payload.wrapping = key == "data" ? .envelope : .requestBody
                    while true {
                        let k = try tokens.next()
                        if k == .endObject { break }
                        let member = tokens.string
                        let first = try tokens.next()
                        if try readMember(
                            member, first: first, tokens: tokens, payload: &payload, sink: &sink, headerOnly: headerOnly, place: &place,
                            sawMetadata: &sawMetadata, sawRecords: &sawRecords)
                        {
                            return
                        }
                    }
                case "conflict":
                    place = PayloadPlace("conflict")
                    let value = try tokens.value(after: v)
                    // As Laravel reads a request: trimmed, and empty (or null) as absent.
                    let text = value.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines)
                    if value.isNull || text == "" { break }
                    guard let text, text == "skip" || text == "overwrite" else {
                        throw VeloError("\(path): conflict must be \"skip\" or \"overwrite\", not \(JSONWriter.string(value))")
                    }
                    payload.conflict = text
                case "version" where !wrapped, "exported_at" where !wrapped, "metadata" where !wrapped, "records" where !wrapped:
                    if try readMember(
                        key, first: v, tokens: tokens, payload: &payload, sink: &sink, headerOnly: headerOnly, place: &place,
                        sawMetadata: &sawMetadata, sawRecords: &sawRecords)
                    {
                        return
                    }
                default:
                    place = PayloadPlace(key)
                    try tokens.skip(after: v)
                }
                continue topLevel
            }
            guard try tokens.next() == .end else { throw VeloError("\(path): unexpected data after the payload") }
            if !sawMetadata && !sawRecords && payload.version == nil {
                throw VeloError(
                    "\(path): not a transfer payload: no version, metadata or records (nor a data or payload object holding them)")
            }
        } catch let failure as JSONTokenizer.Failure {
            throw VeloError("\(path): \(place): \(failure.text)")
        }
    }

    /// Reads one member of the payload object. Returns true when the header read may stop here.
    private func readMember<S: RecordsSink>(
        _ key: String, first: JSONTokenizer.Token, tokens: JSONTokenizer, payload: inout TransferPayload,
        sink: inout S, headerOnly: Bool, place: inout PayloadPlace, sawMetadata: inout Bool, sawRecords: inout Bool
    ) throws -> Bool {
        place = PayloadPlace(key)
        switch key {
        case "version":
            let value = try tokens.value(after: first)
            guard let version = value.intValue, value.typeName == "number" || value.typeName == "string" else {
                throw VeloError("\(path): version must be a number, not \(JSONWriter.string(value))")
            }
            payload.version = version
            if version != TransferPayload.version {
                throw VeloError(
                    "\(path): payload version \(version); velo reads version \(TransferPayload.version) (Veloquent's schema transfer)")
            }
        case "exported_at":
            payload.exportedAt = try tokens.value(after: first).stringValue
        case "metadata":
            sawMetadata = true
            guard first == .beginObject else {
                try tokens.skip(after: first)
                return false
            }
            while true {
                let t = try tokens.next()
                if t == .endObject { break }
                let member = tokens.string
                place = PayloadPlace("metadata.\(member)")
                let v = try tokens.next()
                if member == "collections" {
                    let value = try tokens.value(after: v)
                    guard case .array(let items) = value else {
                        if value.isNull { continue }
                        throw VeloError("\(path): metadata.collections must be an array, not a JSON \(value.typeName)")
                    }
                    payload.collections = items
                } else {
                    try tokens.skip(after: v)
                }
            }
            if headerOnly && sawRecords { return true }
        case "records":
            sawRecords = true
            payload.hasRecords = true
            // The header is complete once the metadata is read; records before it are read and discarded.
            if headerOnly && sawMetadata { return true }
            guard first == .beginObject else {
                if first == .null { return false }
                if first == .beginArray, try tokens.next() == .endArray { return false }  // PHP's empty array
                throw VeloError("\(path): records must be an object keyed by table name")
            }
            var tablesSeen = Set<String>()
            while true {
                let t = try tokens.next()
                if t == .endObject { break }
                let table = tokens.string
                place = PayloadPlace("records.\(table)")
                guard TransferPayload.isValidTableName(table) else {
                    throw VeloError(
                        "\(path): records: the table name \(JSONWriter.string(.string(table))) is not a Veloquent table name (letters, digits and _ only)"
                    )
                }
                guard tablesSeen.insert(table).inserted else { throw VeloError("\(path): records: table \(table) appears twice") }
                let v = try tokens.next()
                if v == .beginObject, try tokens.next() == .endObject {
                    try sink.beginTable(table); try sink.endTable(table)
                    continue
                } else if v == .beginObject {
                    throw VeloError("\(path): records.\(table): the rows must be an array, not an object")
                }
                guard v == .beginArray else {
                    if v == .null { continue }
                    throw VeloError("\(path): records.\(table): the rows must be an array, not a JSON \(name(v))")
                }
                try sink.beginTable(table)
                var rowNumber = 0
                var columns: [String] = []
                while true {
                    let r = try tokens.next()
                    if r == .endArray { break }
                    rowNumber += 1
                    place.row = rowNumber  // the text is made only for an error
                    guard r == .beginObject else {
                        throw VeloError("\(path): records.\(table) row \(rowNumber): a row is a JSON \(name(r)), not an object")
                    }
                    var values: [(String, JSONValue)] = []
                    values.reserveCapacity(columns.count)
                    while true {
                        let k = try tokens.next()
                        if k == .endObject { break }
                        // Rows of a table repeat their columns: the name read for the row before is reused.
                        let column: String
                        if values.count < columns.count, tokens.textEquals(columns[values.count]) {
                            column = columns[values.count]
                        } else {
                            column = tokens.string
                            if values.count < columns.count { columns[values.count] = column } else { columns.append(column) }
                        }
                        do {
                            values.append((column, try tokens.value(after: try tokens.next())))
                        } catch let failure as JSONTokenizer.Failure {
                            let id = values.first { $0.0 == "id" }.map { " (id \(JSONWriter.string($0.1)))" } ?? ""
                            throw VeloError("\(path): records.\(table) row \(rowNumber)\(id), column \(column): \(failure.text)")
                        }
                    }
                    try sink.row(table, rowNumber, values)
                }
                try sink.endTable(table)
            }
            place = PayloadPlace("records")
        default:
            try tokens.skip(after: first)
        }
        return false
    }

    private func name(_ token: JSONTokenizer.Token) -> String {
        switch token {
        case .beginObject: return "object"
        case .beginArray: return "array"
        case .string, .key: return "string"
        case .number: return "number"
        case .trueValue, .falseValue: return "boolean"
        case .null: return "null"
        default: return "end"
        }
    }
}

/// Where in a payload the reader is, for its one-line errors: a member (`records.posts`) and, within a table,
/// the row being read (`records.posts row 12`).
struct PayloadPlace: CustomStringConvertible {
    var name: String
    var row = 0

    init(_ name: String) { self.name = name }

    var description: String { row > 0 ? "\(name) row \(row)" : name }
}
