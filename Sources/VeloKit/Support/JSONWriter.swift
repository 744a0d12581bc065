/// Writes JSON into a byte buffer: compact (one line, for archives and NDJSON) or indented (for people).
/// Strings are escaped per RFC 8259; everything outside ASCII control characters, `"` and `\` is written as is.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    let indentStep: Int
    /// Write `/` as `\\/`, as PHP's `json_encode` does by default (used to make Veloquent-shaped data).
    public var escapesSlashes = false

    /// - Parameter pretty: indent with two spaces and put each member on its own line.
    public init(pretty: Bool = false, capacity: Int = 256) {
        indentStep = pretty ? 2 : 0
        bytes.reserveCapacity(capacity)
    }

    /// Serializes one value to a string.
    public static func string(_ value: JSONValue, pretty: Bool = false, escapesSlashes: Bool = false) -> String {
        var writer = JSONWriter(pretty: pretty)
        writer.escapesSlashes = escapesSlashes
        writer.write(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    public mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
    }

    public mutating func write(_ value: JSONValue) { write(value, level: 0) }

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
    public mutating func writeString(_ s: String) {
        var s = s
        s.withUTF8 { writeString(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Writes a JSON string literal from UTF-8 bytes (which the caller has checked are valid UTF-8).
    public mutating func writeString(utf8: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        var i = 0
        let count = utf8.count
        while i < count {
            let b = utf8[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C && !(b == 0x2F && escapesSlashes) {
                i += 1
                continue
            }
            if runStart < i { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart..<i])) }
            switch b {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x2F: bytes.append(0x5C); bytes.append(0x2F)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            default:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            }
            i += 1
            runStart = i
        }
        if runStart < count { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart..<count])) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends raw bytes that are already valid JSON.
    public mutating func appendRaw(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }
    public mutating func appendRaw(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }
    public mutating func appendByte(_ byte: UInt8) { bytes.append(byte) }
    public mutating func appendInteger(_ value: Int64) { appendASCII(String(value)) }
}

/// The JSON text of numbers, chosen so that reading it back gives the same value bit for bit.
public enum JSONNumberText {
    /// The shortest text that reads back to the same Double, always with a `.` or an `e` so it stays a real
    /// (`-0.0`, `1.0`, `5e-324`). Infinity and NaN have no JSON number form; callers encode them separately.
    public static func real(_ value: Double) -> String {
        precondition(value.isFinite, "non-finite reals have no JSON number text")
        let text = value.description
        if text.contains(".") || text.contains("e") { return text }
        return text + ".0"
    }
}
