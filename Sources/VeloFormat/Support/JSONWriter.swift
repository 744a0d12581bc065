/// Writes JSON into a byte buffer: compact (one line, for archives and NDJSON) or indented (for people).
/// Strings are escaped per RFC 8259; everything outside ASCII control characters, `"` and `\` is written as is.
package struct JSONWriter {
    package private(set) var bytes: [UInt8] = []
    let indentStep: Int
    /// Write `/` as `\\/`, as PHP's `json_encode` does by default (used to make Veloquent-shaped data).
    package var escapesSlashes = false

    /// - Parameter pretty: indent with two spaces and put each member on its own line.
    package init(pretty: Bool = false, capacity: Int = 256) {
        indentStep = pretty ? 2 : 0
        bytes.reserveCapacity(capacity)
    }

    /// Serializes one value to a string.
    package static func string(_ value: JSONValue, pretty: Bool = false, escapesSlashes: Bool = false) -> String {
        var writer = JSONWriter(pretty: pretty)
        writer.escapesSlashes = escapesSlashes
        writer.write(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    package mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
    }

    package mutating func write(_ value: JSONValue) { write(value, level: 0) }

    mutating func write(_ value: JSONValue, level: Int) {
        switch value {
        case .null: appendASCII("null")
        case .bool(let b): appendASCII(b ? "true" : "false")
        case .number(let n): appendASCII(n)
        case .string(let s): writeString(s)
        case .array(let items):
            if items.isEmpty { appendASCII("[]"); return }
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(level + 1)
                write(item, level: level + 1)
            }
            newline(level)
            bytes.append(UInt8(ascii: "]"))
        case .object(let pairs):
            if pairs.isEmpty { appendASCII("{}"); return }
            bytes.append(UInt8(ascii: "{"))
            for (i, (key, item)) in pairs.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(level + 1)
                writeString(key)
                bytes.append(UInt8(ascii: ":"))
                if indentStep > 0 { bytes.append(UInt8(ascii: " ")) }
                write(item, level: level + 1)
            }
            newline(level)
            bytes.append(UInt8(ascii: "}"))
        }
    }

    mutating func newline(_ level: Int) {
        guard indentStep > 0 else { return }
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: level * indentStep))
    }

    mutating func appendASCII(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Writes a JSON string literal from text.
    package mutating func writeString(_ s: String) {
        var s = s
        s.withUTF8 { writeString(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Writes a JSON string literal from UTF-8 bytes (which the caller has checked are valid UTF-8).
    package mutating func writeString(utf8: UnsafeRawBufferPointer) {
        let escaped = ByteBuffer(capacity: utf8.count + 16)
        _ = JSONEscaping.appendValidatedString(utf8, to: escaped, escapingSlashes: escapesSlashes)
        bytes.append(contentsOf: escaped.bytes)
    }

    /// Appends raw bytes that are already valid JSON.
    package mutating func appendRaw(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }
    package mutating func appendRaw(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }
    package mutating func appendByte(_ byte: UInt8) { bytes.append(byte) }
    package mutating func appendInteger(_ value: Int64) { appendASCII(String(value)) }
}

/// The JSON text of numbers, chosen so that reading it back gives the same value bit for bit.
package enum JSONNumberText {
    /// The shortest text that reads back to the same Double, always with a `.` or an `e` so it stays a real
    /// (`-0.0`, `1.0`, `5e-324`). Infinity and NaN have no JSON number form; callers encode them separately.
    package static func real(_ value: Double) -> String {
        precondition(value.isFinite, "non-finite reals have no JSON number text")
        let text = value.description
        if text.contains(".") || text.contains("e") { return text }
        return text + ".0"
    }
}

/// JSON string escaping (RFC 8259) straight into a byte buffer: the one implementation every writer uses.
package enum JSONEscaping {
    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `utf8` as a quoted JSON string, checking on the way that it is valid UTF-8 (RFC 3629). Only `"`,
    /// `\\` and control characters are escaped (and `/` when `escapingSlashes`, as PHP does). Returns false,
    /// with a partial string appended, when the bytes are not UTF-8; the caller truncates and falls back.
    /// Runs of bytes that need nothing are found first (`plainRun`) and copied in one go: the data path's hot loop.
    @inline(__always)
    package static func appendValidatedString(_ utf8: UnsafeRawBufferPointer, to out: ByteBuffer, escapingSlashes: Bool = false) -> Bool {
        let count = utf8.count
        out.reserve(count + 2)
        out.appendUnchecked(UInt8(ascii: "\""))
        guard count > 0 else { out.appendUnchecked(UInt8(ascii: "\"")); return true }
        let source = utf8.baseAddress!
        var i = 0
        while true {
            let end = plainRun(source, from: i, count: count, escapingSlashes: escapingSlashes)
            if end > i { out.append(UnsafeRawBufferPointer(start: source + i, count: end - i)) }
            i = end
            if i == count { break }
            let b = source.load(fromByteOffset: i, as: UInt8.self)
            if b >= 0x80 {
                let length = utf8SequenceLength(source + i, available: count - i)
                if length == 0 { return false }
                out.append(UnsafeRawBufferPointer(start: source + i, count: length))
                i += length
                continue
            }
            out.reserve(6)
            switch b {
            case 0x22: out.appendUnchecked(0x5C); out.appendUnchecked(0x22)
            case 0x5C: out.appendUnchecked(0x5C); out.appendUnchecked(0x5C)
            case 0x2F: out.appendUnchecked(0x5C); out.appendUnchecked(0x2F)
            case 0x0A: out.appendUnchecked(0x5C); out.appendUnchecked(UInt8(ascii: "n"))
            case 0x0D: out.appendUnchecked(0x5C); out.appendUnchecked(UInt8(ascii: "r"))
            case 0x09: out.appendUnchecked(0x5C); out.appendUnchecked(UInt8(ascii: "t"))
            default:
                out.appendUnchecked(0x5C); out.appendUnchecked(UInt8(ascii: "u"))
                out.appendUnchecked(UInt8(ascii: "0")); out.appendUnchecked(UInt8(ascii: "0"))
                out.appendUnchecked(hex[Int(b >> 4)]); out.appendUnchecked(hex[Int(b & 0xF)])
            }
            i += 1
        }
        out.append(UInt8(ascii: "\""))
        return true
    }

    /// The end of the run of bytes from `start` that are printable ASCII other than `"` and `\\` (and `/` when
    /// `escapingSlashes`): sixteen bytes a step, then one step of eight, then the last eight, then byte by byte. Only
    /// reads, so the loop keeps everything in registers.
    @inline(__always)
    static func plainRun(_ p: UnsafeRawPointer, from start: Int, count: Int, escapingSlashes: Bool) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        /// High bit set in (at least) the first byte that needs attention; bytes after it may be flagged wrongly.
        @inline(__always) func flagged(_ x: UInt64) -> UInt64 {
            let quote = x ^ (ones &* 0x22)
            let backslash = x ^ (ones &* 0x5C)
            var special = ((x &- ones &* 0x20) & ~x) | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | x
            if escapingSlashes {
                let slash = x ^ (ones &* 0x2F)
                special |= (slash &- ones) & ~slash
            }
            return special & highs
        }
        var i = start
        while i + 16 <= count {
            let a = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let b = p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
            if flagged(a) | flagged(b) != 0 { break }
            i += 16
        }
        if i + 8 <= count, flagged(p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) == 0 { i += 8 }
        // The last few bytes in one step too, with the eight bytes that end the string (they overlap bytes
        // already known plain, or bytes before `start`: a byte flagged there only sends this to the byte loop).
        if i < count, count - i <= 8, count >= 8, flagged(p.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)) == 0 { return count }
        while i < count {
            let b = p.load(fromByteOffset: i, as: UInt8.self)
            if b < 0x20 || b >= 0x80 || b == 0x22 || b == 0x5C || (escapingSlashes && b == 0x2F) { break }
            i += 1
        }
        return i
    }

    /// The length of the valid UTF-8 sequence starting at `p` (whose first byte is >= 0x80), or 0 if invalid.
    @inline(__always)
    static func utf8SequenceLength(_ p: UnsafeRawPointer, available: Int) -> Int {
        let b0 = p.load(as: UInt8.self)
        func cont(_ k: Int) -> UInt8? { k < available ? p.load(fromByteOffset: k, as: UInt8.self) : nil }
        if b0 < 0xC2 { return 0 }
        if b0 < 0xE0 {
            guard let b1 = cont(1), b1 & 0xC0 == 0x80 else { return 0 }
            return 2
        }
        if b0 < 0xF0 {
            guard let b1 = cont(1), let b2 = cont(2), b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80 else { return 0 }
            if b0 == 0xE0 && b1 < 0xA0 { return 0 }
            if b0 == 0xED && b1 >= 0xA0 { return 0 }
            return 3
        }
        if b0 < 0xF5 {
            guard let b1 = cont(1), let b2 = cont(2), let b3 = cont(3), b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80, b3 & 0xC0 == 0x80 else {
                return 0
            }
            if b0 == 0xF0 && b1 < 0x90 { return 0 }
            if b0 == 0xF4 && b1 >= 0x90 { return 0 }
            return 4
        }
        return 0
    }
}
