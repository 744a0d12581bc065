import Foundation

/// The lossless row encoding of format version 1: one JSON array per row, values in table column order (the
/// columns are listed in `velo-snapshot.json` and `manifest.json`). Integers are JSON integers (full int64);
/// reals the shortest text that reads back bit for bit, always with a `.` or an `e`; text a JSON string;
/// blobs `{"$blob":"<base64>"}`; infinities `{"$real":"inf"}`/`"-inf"`; text that is not valid UTF-8
/// `{"$text":"<base64 of its bytes>"}`. A value keeps its storage class whatever its column's declared type.
package struct RecordEncoder {
    package let columnCount: Int

    package init(columnCount: Int) {
        self.columnCount = columnCount
    }

    /// Appends the current row of `statement` (its first `columnCount` result columns) and a newline.
    package func appendRow(of statement: Statement, to out: ByteBuffer) {
        out.append(UInt8(ascii: "["))
        for i in 0..<columnCount {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            let value = statement.columnValue(Int32(i))
            switch value.storageClass {
            case .null:
                RecordEncoder.appendNull(to: out)
            case .integer:
                RecordEncoder.appendInteger(value.int64, to: out)
            case .real:
                RecordEncoder.appendReal(value.double, to: out)
            case .text:
                value.withTextBytes { RecordEncoder.appendText($0, to: out) }
            case .blob:
                value.withBlobBytes { RecordEncoder.appendMarked("$blob", $0, to: out) }
            }
        }
        out.append(UInt8(ascii: "]"))
        out.append(0x0A)
    }

    /// Appends one value as JSON.
    package static func appendValue(_ value: SQLiteValue, to out: ByteBuffer) {
        switch value {
        case .null: appendNull(to: out)
        case .integer(let i): appendInteger(i, to: out)
        case .real(let d): appendReal(d, to: out)
        case .text(let s):
            var s = s
            s.withUTF8 { appendText(UnsafeRawBufferPointer($0), to: out) }
        case .blob(let b): b.withUnsafeBytes { appendMarked("$blob", $0, to: out) }
        }
    }

    @inline(__always)
    static func appendNull(to out: ByteBuffer) {
        out.reserve(4)
        out.appendUnchecked(UInt8(ascii: "n")); out.appendUnchecked(UInt8(ascii: "u"))
        out.appendUnchecked(UInt8(ascii: "l")); out.appendUnchecked(UInt8(ascii: "l"))
    }

    @inline(__always)
    static func appendInteger(_ value: Int64, to out: ByteBuffer) {
        out.reserve(20)
        var magnitude = value.magnitude
        if value < 0 { out.appendUnchecked(UInt8(ascii: "-")) }
        if magnitude < 10 { out.appendUnchecked(UInt8(48 + magnitude)); return }
        var digits = 0
        var probe = magnitude
        while probe > 0 { digits += 1; probe /= 10 }
        var position = out.count + digits - 1
        while magnitude > 0 {
            out.base[position] = UInt8(48 + magnitude % 10)
            magnitude /= 10
            position -= 1
        }
        out.truncateForward(by: digits)
    }

    package static func appendReal(_ value: Double, to out: ByteBuffer) {
        if value.isFinite {
            // Integral values below 2^53 print exactly as their integer with ".0": no allocation on the hot path.
            if value == value.rounded(), abs(value) < 9_007_199_254_740_992, !(value == 0 && value.sign == .minus) {
                appendInteger(Int64(value), to: out)
                out.append(UInt8(ascii: ".")); out.append(UInt8(ascii: "0"))
            } else {
                var text = JSONNumberText.real(value)
                text.withUTF8 { out.append(UnsafeRawBufferPointer($0)) }
            }
        } else {
            var text = value.isNaN ? #"{"$real":"nan"}"# : value < 0 ? #"{"$real":"-inf"}"# : #"{"$real":"inf"}"#
            text.withUTF8 { out.append(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Text as a JSON string when it is valid UTF-8, otherwise as `{"$text":"<base64>"}`.
    @inline(__always)
    static func appendText(_ bytes: UnsafeRawBufferPointer, to out: ByteBuffer) {
        let start = out.count
        if !JSONEscaping.appendValidatedString(bytes, to: out) {
            out.truncate(to: start)
            appendMarked("$text", bytes, to: out)
        }
    }

    static func appendMarked(_ marker: String, _ bytes: UnsafeRawBufferPointer, to out: ByteBuffer) {
        var prefix = "{\"\(marker)\":\""
        prefix.withUTF8 { out.append(UnsafeRawBufferPointer($0)) }
        Data(bytes).base64EncodedData().withUnsafeBytes { out.append($0) }
        out.append(UInt8(ascii: "\"")); out.append(UInt8(ascii: "}"))
    }
}

/// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) with an ASCII fast path.
enum UTF8Check {
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var i = 0
        while i < bytes.count {
            if bytes[i] < 0x80 { i += 1; continue }
            let length = JSONEscaping.utf8SequenceLength(base + i, available: bytes.count - i)
            if length == 0 { return false }
            i += length
        }
        return true
    }
}
