/// Checks one row line of an archive without building it: valid JSON, an array with exactly one value per
/// column, each a value of format version 1. Used by `velo verify` on every row, so it allocates nothing.
package struct RowValidator {
    /// Values per row; nil when the columns are unknown (only the shape is checked).
    let columnCount: Int?

    package init(columnCount: Int?) {
        self.columnCount = columnCount
    }

    /// nil when the line is a sound row, otherwise why it is not.
    package func problem(in line: UnsafeRawBufferPointer) -> String? {
        var scanner = Scanner(bytes: line)
        guard scanner.take(UInt8(ascii: "[")) else { return "a row does not start with '['" }
        var values = 0
        if !scanner.take(UInt8(ascii: "]")) {
            while true {
                if let problem = scanner.skipValue() { return "value \(values + 1): \(problem)" }
                values += 1
                if scanner.take(UInt8(ascii: ",")) { continue }
                if scanner.take(UInt8(ascii: "]")) { break }
                return "malformed row at byte \(scanner.index)"
            }
        }
        guard scanner.index == line.count else { return "data after the row at byte \(scanner.index)" }
        if let columnCount, values != columnCount { return "has \(values) values, the table has \(columnCount) columns" }
        return nil
    }

    /// Standard base64 with padding, as `Data.base64EncodedData` writes it.
    static func isBase64(_ text: UnsafeRawBufferPointer) -> Bool {
        guard text.count % 4 == 0 else { return false }
        var padding = 0
        for (i, b) in text.enumerated() {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "/"):
                if padding > 0 { return false }
            case UInt8(ascii: "="):
                padding += 1
                if padding > 2 || i < text.count - 2 { return false }
            default:
                return false
            }
        }
        return true
    }

    /// The byte ranges of a sound row's values, or nil when the line is not a row. With `limit`, only the first
    /// `limit` values are found (the rest of the line is not checked).
    package static func valueRanges(in line: UnsafeRawBufferPointer, limit: Int = .max) -> [Range<Int>]? {
        var scanner = Scanner(bytes: line)
        guard scanner.take(UInt8(ascii: "[")) else { return nil }
        var ranges: [Range<Int>] = []
        if scanner.take(UInt8(ascii: "]")) { return ranges }
        while true {
            let start = scanner.index
            if scanner.skipValue() != nil { return nil }
            ranges.append(start..<scanner.index)
            if ranges.count == limit { return ranges }
            if scanner.take(UInt8(ascii: ",")) { continue }
            return scanner.take(UInt8(ascii: "]")) ? ranges : nil
        }
    }

    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// Skips a string, checking escapes and UTF-8; runs of plain ASCII are skipped as the encoder finds them.
        mutating func skipString() -> Bool {
            guard take(UInt8(ascii: "\"")) else { return false }
            let base = bytes.baseAddress!
            while index < bytes.count {
                index = JSONEscaping.plainRun(base, from: index, count: bytes.count, escapingSlashes: false)
                guard index < bytes.count else { break }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") { index += 1; return true }
                if b < 0x20 { return false }
                if b >= 0x80 {
                    let length = JSONEscaping.utf8SequenceLength(base + index, available: bytes.count - index)
                    if length == 0 { return false }
                    index += length
                    continue
                }
                if b == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.count else { return false }
                    switch bytes[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        break
                    case UInt8(ascii: "u"):
                        guard index + 4 < bytes.count else { return false }
                        for k in 1...4 where !bytes[index + k].isHexDigit { return false }
                        index += 4
                    default: return false
                    }
                }
                index += 1
            }
            return false
        }

        /// Skips one value of format version 1; returns why it is not one.
        mutating func skipValue() -> String? {
            guard let b = peek else { return "unexpected end of row" }
            switch b {
            case UInt8(ascii: "\""):
                return skipString() ? nil : "malformed string at byte \(index)"
            case UInt8(ascii: "n"): return skipWord("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return skipNumber()
            case UInt8(ascii: "{"):
                // {"$blob":"..."}, {"$text":"..."} or {"$real":"..."}
                index += 1
                let start = index
                guard skipString() else { return "malformed marker at byte \(index)" }
                let marker = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                guard
                    marker.elementsEqual(#""$blob""#.utf8) || marker.elementsEqual(#""$text""#.utf8)
                        || marker.elementsEqual(#""$real""#.utf8)
                else {
                    return "unknown value marker \(String(decoding: marker, as: UTF8.self))"
                }
                guard take(UInt8(ascii: ":")) else { return "malformed marker value at byte \(index)" }
                let valueStart = index
                guard skipString(), take(UInt8(ascii: "}")) else { return "malformed marker value at byte \(index)" }
                let value = UnsafeRawBufferPointer(rebasing: bytes[(valueStart + 1)..<(index - 2)])
                if marker.elementsEqual(#""$real""#.utf8) {
                    guard value.elementsEqual("inf".utf8) || value.elementsEqual("-inf".utf8) || value.elementsEqual("nan".utf8) else {
                        return "{\"$real\": ...} holds \(String(decoding: value, as: UTF8.self)), not inf, -inf or nan"
                    }
                } else if !RowValidator.isBase64(value) {
                    return "\(String(decoding: marker, as: UTF8.self)) is not valid base64"
                }
                return nil
            default:
                return "unexpected '\(Character(Unicode.Scalar(b)))' at byte \(index)"
            }
        }

        mutating func skipWord(_ word: StaticString) -> String? {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return "unexpected end of row" }
            for k in 0..<count where bytes[index + k] != word.utf8Start[k] { return "invalid literal at byte \(index)" }
            index += count
            return nil
        }

        mutating func skipNumber() -> String? {
            let start = index
            _ = take(UInt8(ascii: "-"))
            var digits = 0
            while let b = peek, b.isDigit { index += 1; digits += 1 }
            guard digits > 0, !(digits > 1 && bytes[index - digits] == UInt8(ascii: "0")) else {
                return "malformed number at byte \(start)"
            }
            if take(UInt8(ascii: ".")) {
                var fraction = 0
                while let b = peek, b.isDigit { index += 1; fraction += 1 }
                if fraction == 0 { return "malformed number at byte \(start)" }
            }
            if let b = peek, b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
                index += 1
                if let s = peek, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { index += 1 }
                var exponent = 0
                while let b = peek, b.isDigit { index += 1; exponent += 1 }
                if exponent == 0 { return "malformed number at byte \(start)" }
            }
            return nil
        }
    }
}

extension UInt8 {
    @inline(__always) package var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    @inline(__always) var isHexDigit: Bool { isDigit || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66) }
}
