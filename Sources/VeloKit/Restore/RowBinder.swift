import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Binds one archive row straight to a prepared statement's parameters 1...n, without building JSON values:
/// integers and reals as numbers, strings unescaped into a reused buffer, `$blob`/`$text`/`$real` decoded. The
/// restore path's hot loop; anything that is not a sound row of `columnCount` values is an error naming why.
struct RowBinder {
    let columnCount: Int
    /// The decoded text of the last string that had escapes (reused, so decoding allocates only to grow).
    private let escaped = Escaped()

    final class Escaped {
        @exclusivity(unchecked) var bytes: [UInt8] = []
    }

    init(columnCount: Int) {
        self.columnCount = columnCount
    }

    struct Problem: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    func bind(_ line: UnsafeRawBufferPointer, to statement: Statement) throws {
        var i = 0
        let count = line.count
        func fail(_ reason: String) -> Problem { Problem(reason: "\(reason) at byte \(i)") }
        guard count > 0, line[0] == UInt8(ascii: "[") else { throw fail("a row does not start with '['") }
        i = 1
        var column: Int32 = 0
        if i < count, line[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            while true {
                column += 1
                guard Int(column) <= columnCount else { throw fail("more values than the table's \(columnCount) columns") }
                guard i < count else { throw fail("unexpected end of row") }
                switch line[i] {
                case UInt8(ascii: "n"):
                    guard i + 4 <= count, line[i + 1] == UInt8(ascii: "u"), line[i + 2] == UInt8(ascii: "l"),
                        line[i + 3] == UInt8(ascii: "l")
                    else {
                        throw fail("invalid literal")
                    }
                    try statement.bindNull(at: column)
                    i += 4
                case UInt8(ascii: "\""):
                    let start = i + 1
                    if try readString(line, &i) {
                        // No escapes: the text is the bytes between the quotes, bound where they are.
                        try statement.bindTextNoCopy(UnsafeRawBufferPointer(rebasing: line[start..<(i - 1)]), at: column)
                    } else {
                        try escaped.bytes.withUnsafeBytes { try statement.bindText($0, at: column) }
                    }
                case UInt8(ascii: "{"):
                    try readMarker(line, &i, column: column, statement: statement)
                default:
                    try readNumber(line, &i, column: column, statement: statement)
                }
                guard i < count else { throw fail("unexpected end of row") }
                if line[i] == UInt8(ascii: ",") { i += 1; continue }
                if line[i] == UInt8(ascii: "]") { i += 1; break }
                throw fail("expected ',' or ']'")
            }
        }
        guard i == count else { throw fail("data after the row") }
        guard Int(column) == columnCount else { throw Problem(reason: "has \(column) values, the table has \(columnCount) columns") }
    }

    /// Reads a JSON string at `i`. Returns true when it has no escapes: its text is then the bytes between the
    /// quotes, bound where they lie. A string with escapes is decoded by `JSONParser` into `escaped`.
    @discardableResult
    private func readString(_ line: UnsafeRawBufferPointer, _ i: inout Int) throws -> Bool {
        let stringStart = i
        i += 1
        let base = line.baseAddress!
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while i < line.count {
            // Eight bytes at a time while there is neither a quote nor a backslash.
            if i + 8 <= line.count {
                let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let quote = x ^ (ones &* 0x22)
                let backslash = x ^ (ones &* 0x5C)
                if (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)) & highs == 0 {
                    i += 8
                    continue
                }
            }
            let b = line[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return true
            }
            if b == UInt8(ascii: "\\") {
                var parser = JSONParser(bytes: line)
                parser.index = stringStart
                escaped.bytes.removeAll(keepingCapacity: true)
                do { try parser.parseStringBytes(into: &escaped.bytes) } catch { throw Problem(reason: "\(error)") }
                i = parser.index
                return false
            }
            i += 1
        }
        throw Problem(reason: "unterminated string")
    }

    private func readNumber(_ line: UnsafeRawBufferPointer, _ i: inout Int, column: Int32, statement: Statement) throws {
        let start = i
        var isReal = false
        while i < line.count {
            let b = line[i]
            if b.isDigit || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") { i += 1; continue }
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { isReal = true; i += 1; continue }
            break
        }
        guard i > start else { throw Problem(reason: "unexpected character at byte \(i)") }
        if !isReal && i - start < 19 {
            // Integers that cannot overflow: read without a String.
            var negative = false
            var j = start
            if line[j] == UInt8(ascii: "-") { negative = true; j += 1 }
            if j < i {
                var value: Int64 = 0
                var ok = true
                while j < i {
                    let b = line[j]
                    guard b.isDigit else { ok = false; break }
                    value = value * 10 + Int64(b - 0x30)
                    j += 1
                }
                if ok {
                    try statement.bind(negative ? -value : value, at: column)
                    return
                }
            }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<i]), as: UTF8.self)
        if !isReal, let value = Int64(text) {
            try statement.bind(value, at: column)
        } else if let value = Double(text) {
            try statement.bind(value, at: column)
        } else {
            throw Problem(reason: "malformed number \(text) at byte \(start)")
        }
    }

    private func readMarker(_ line: UnsafeRawBufferPointer, _ i: inout Int, column: Int32, statement: Statement) throws {
        let start = i
        var depth = 0
        scan: while i < line.count {
            switch line[i] {
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { i += 1; break scan }
            case UInt8(ascii: "\""):
                i += 1
                while i < line.count && line[i] != UInt8(ascii: "\"") {
                    if line[i] == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
            default: break
            }
            i += 1
        }
        guard depth == 0, i <= line.count else { throw Problem(reason: "unterminated value marker at byte \(start)") }
        let json = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: line[start..<i]))
        let value: RecordValue
        do { value = try RecordDecoder.value(json, column: String(column)) } catch { throw Problem(reason: "\(error)") }
        try value.bind(to: statement, at: column)
    }
}
