import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A streaming JSON tokenizer over a file: one token at a time from a fixed 1 MiB read buffer, with the grammar
/// checked as it goes (RFC 8259). Memory is bounded by the buffer, the nesting limit and the longest string
/// allowed, whatever the size of the document, so a payload of any size is read in one pass.
final class JSONTokenizer {
    enum Token: Equatable {
        case beginObject, endObject, beginArray, endArray
        /// An object key; its UTF-8 bytes are in `text`.
        case key
        /// A string value; its UTF-8 bytes are in `text`.
        case string
        /// A number; its JSON text is in `text`.
        case number
        case trueValue, falseValue, null
        /// The end of the document (after the one top-level value).
        case end
    }

    /// A syntax error or a limit exceeded, at a byte offset of the file.
    struct Failure: Error {
        let offset: Int64
        let reason: String
        /// A limit was exceeded (the JSON may be fine).
        var isLimit = false

        /// `malformed JSON at byte N: reason`, or `at byte N: reason` for a limit.
        var text: String { isLimit ? "at byte \(offset): \(reason)" : "malformed JSON at byte \(offset): \(reason)" }
    }

    static let maxDepth = JSONParser.maxDepth

    /// The bytes of the last key, string or number. (The state below is used by one thread at a time and never
    /// lent out while it changes: the hot loop need not check exclusive access at run time.)
    @exclusivity(unchecked) private(set) var text: [UInt8] = []
    /// The longest string accepted, in bytes (a larger one is a `Failure`, never an allocation).
    let maxStringBytes: Int

    private let fd: Int32
    private let buffer: UnsafeMutablePointer<UInt8>
    private let capacity = 1 << 20
    @exclusivity(unchecked) private var index = 0
    @exclusivity(unchecked) private var end = 0
    @exclusivity(unchecked) private var consumed: Int64 = 0  // bytes before buffer[0]
    @exclusivity(unchecked) private var eof = false
    @exclusivity(unchecked) private var stack: [UInt8] = []  // '{' or '['
    private enum State { case start, value, valueOrEndArray, key, keyOrEndObject, afterValue }
    @exclusivity(unchecked) private var state = State.start

    /// The byte offset of the next unread byte.
    var offset: Int64 { consumed + Int64(index) }
    /// How deep the tokenizer is: 0 at top level, 1 inside the outer container, ...
    var depth: Int { stack.count }

    init(fd: Int32, maxStringBytes: Int) {
        self.fd = fd
        self.maxStringBytes = maxStringBytes
        buffer = .allocate(capacity: capacity)
        text.reserveCapacity(4096)
    }

    deinit { buffer.deallocate() }

    /// The last string or key as text.
    var string: String { String(decoding: text, as: UTF8.self) }

    /// Whether the last key, string or number is `other` (compared as bytes: no string is made).
    func textEquals(_ other: String) -> Bool {
        var other = other
        return other.withUTF8 { o in
            text.withUnsafeBytes { t in o.count == t.count && (o.count == 0 || memcmp(o.baseAddress!, t.baseAddress!, o.count) == 0) }
        }
    }

    private func fail(_ reason: String) -> Failure { Failure(offset: offset, reason: reason) }

    private func tooLong() -> Failure {
        let limit = maxStringBytes >= 1 << 20 ? "\(maxStringBytes >> 20) MiB" : "\(maxStringBytes) bytes"
        return Failure(offset: offset, reason: "a string longer than \(limit), the limit of one value in a payload", isLimit: true)
    }

    /// Makes at least one more byte available; false at the end of the file.
    @inline(__always)
    private func fill() throws -> Bool {
        if index < end { return true }
        if eof { return false }
        consumed += Int64(end)
        index = 0
        end = 0
        while true {
            let n = read(fd, buffer, capacity)
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { eof = true; return false }
            end = n
            return true
        }
    }

    @inline(__always)
    private func peekByte() throws -> UInt8? {
        guard try fill() else { return nil }
        return buffer[index]
    }

    private func skipSpace() throws {
        while try fill() {
            switch buffer[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The next token.
    func next() throws -> Token {
        while true {
            try skipSpace()
            switch state {
            case .afterValue:
                guard let top = stack.last else {
                    if try peekByte() == nil { return .end }
                    throw fail("unexpected data after the value")
                }
                guard let c = try peekByte() else {
                    throw fail("unexpected end of input in \(top == UInt8(ascii: "{") ? "an object" : "an array")")
                }
                if c == UInt8(ascii: ",") {
                    index += 1
                    state = top == UInt8(ascii: "{") ? .key : .value
                    continue
                }
                if c == UInt8(ascii: "}") && top == UInt8(ascii: "{") { index += 1; stack.removeLast(); return .endObject }
                if c == UInt8(ascii: "]") && top == UInt8(ascii: "[") { index += 1; stack.removeLast(); return .endArray }
                throw fail(top == UInt8(ascii: "{") ? "expected ',' or '}'" : "expected ',' or ']'")
            case .key, .keyOrEndObject:
                guard let c = try peekByte() else { throw fail("unexpected end of input in an object") }
                if c == UInt8(ascii: "}") && state == .keyOrEndObject {
                    index += 1
                    stack.removeLast()
                    state = .afterValue
                    return .endObject
                }
                guard c == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                try readString()
                try skipSpace()
                guard try peekByte() == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                state = .value
                return .key
            case .valueOrEndArray, .value, .start:
                guard let c = try peekByte() else { throw fail("unexpected end of input") }
                if c == UInt8(ascii: "]") && state == .valueOrEndArray {
                    index += 1
                    stack.removeLast()
                    state = .afterValue
                    return .endArray
                }
                switch c {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard stack.count < JSONTokenizer.maxDepth else {
                        throw Failure(
                            offset: offset, reason: "nested deeper than \(JSONTokenizer.maxDepth) levels, the limit of a payload",
                            isLimit: true)
                    }
                    index += 1
                    stack.append(c)
                    state = c == UInt8(ascii: "{") ? .keyOrEndObject : .valueOrEndArray
                    return c == UInt8(ascii: "{") ? .beginObject : .beginArray
                case UInt8(ascii: "\""):
                    try readString()
                    state = .afterValue
                    return .string
                case UInt8(ascii: "t"): try expectWord("true"); state = .afterValue; return .trueValue
                case UInt8(ascii: "f"): try expectWord("false"); state = .afterValue; return .falseValue
                case UInt8(ascii: "n"): try expectWord("null"); state = .afterValue; return .null
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    try readNumber()
                    state = .afterValue
                    return .number
                default:
                    let shown = c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : String(format: "byte 0x%02x", c)
                    throw fail("unexpected character \(shown)")
                }
            }
        }
    }

    private func expectWord(_ word: String) throws {
        for expected in word.utf8 {
            guard let b = try peekByte() else { throw fail("unexpected end of input") }
            guard b == expected else { throw fail("invalid literal") }
            index += 1
        }
    }

    private func readNumber() throws {
        text.removeAll(keepingCapacity: true)
        func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        func take() throws {
            text.append(buffer[index]); index += 1; if text.count > 1024 { throw fail("a number longer than 1024 characters") }
        }
        if try peekByte() == UInt8(ascii: "-") { try take() }
        guard isDigit(try peekByte()) else { throw fail("expected a digit") }
        if try peekByte() == UInt8(ascii: "0") { try take() } else { while isDigit(try peekByte()) { try take() } }
        if try peekByte() == UInt8(ascii: ".") {
            try take()
            guard isDigit(try peekByte()) else { throw fail("expected a digit after '.'") }
            while isDigit(try peekByte()) { try take() }
        }
        if let e = try peekByte(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            try take()
            if let s = try peekByte(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { try take() }
            guard isDigit(try peekByte()) else { throw fail("expected a digit in the exponent") }
            while isDigit(try peekByte()) { try take() }
        }
    }

    /// Reads a string (the opening quote is next) into `text`, decoding escapes.
    private func readString() throws {
        text.removeAll(keepingCapacity: true)
        index += 1
        while true {
            guard try fill() else { throw fail("unterminated string") }
            // The run of plain bytes in the buffer.
            var i = index
            // Eight bytes at a time while none is a quote, a backslash or a control character.
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            while i + 8 <= end {
                let x = UnsafeRawPointer(buffer + i).loadUnaligned(as: UInt64.self)
                let quote = x ^ (ones &* 0x22), backslash = x ^ (ones &* 0x5C)
                let special = ((x &- ones &* 0x20) & ~x) | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                if special & highs != 0 { break }
                i += 8
            }
            while i < end {
                let b = buffer[i]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                i += 1
            }
            if i > index {
                guard text.count + (i - index) <= maxStringBytes else { throw tooLong() }
                text.append(contentsOf: UnsafeBufferPointer(start: buffer + index, count: i - index))
                index = i
            }
            guard index < end else { continue }
            let b = buffer[index]
            if b == UInt8(ascii: "\"") { index += 1; return }
            if b < 0x20 { throw fail("control character in a string") }
            index += 1  // backslash
            guard let e = try peekByte() else { throw fail("unterminated escape") }
            index += 1
            if let simple = JSONEscape.simple(e) {
                text.append(simple)
            } else if e == UInt8(ascii: "u") {
                var scalar = try hex4()
                if JSONEscape.isHighSurrogate(scalar) {
                    guard try peekByte() == UInt8(ascii: "\\") else { throw fail("unpaired surrogate escape") }
                    index += 1
                    guard try peekByte() == UInt8(ascii: "u") else { throw fail("unpaired surrogate escape") }
                    index += 1
                    let low = try hex4()
                    guard JSONEscape.isLowSurrogate(low) else { throw fail("unpaired surrogate escape") }
                    scalar = JSONEscape.combine(high: scalar, low: low)
                } else if JSONEscape.isLowSurrogate(scalar) {
                    throw fail("unpaired surrogate escape")
                }
                JSONEscape.appendUTF8(scalar, to: &text)
            } else {
                throw fail("invalid escape")
            }
            if text.count > maxStringBytes { throw tooLong() }
        }
    }

    private func hex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let b = try peekByte() else { throw fail("short \\u escape") }
            guard let digit = JSONEscape.hexDigit(b) else { throw fail("invalid hex digit in \\u escape") }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// Skips the rest of a value whose first token was `first`.
    func skip(after first: Token) throws {
        guard first == .beginObject || first == .beginArray else { return }
        let target = depth - 1
        while depth > target {
            let t = try next()
            if t == .end { throw fail("unexpected end of input") }
        }
    }

    /// Reads the rest of a value whose first token was `first` into a `JSONValue`.
    func value(after first: Token) throws -> JSONValue {
        switch first {
        case .string, .key: return .string(string)
        case .number: return .number(string)
        case .trueValue: return .bool(true)
        case .falseValue: return .bool(false)
        case .null: return .null
        case .beginArray:
            var items: [JSONValue] = []
            while true {
                let t = try next()
                if t == .endArray { return .array(items) }
                items.append(try value(after: t))
            }
        case .beginObject:
            var pairs: [(String, JSONValue)] = []
            while true {
                let t = try next()
                if t == .endObject { return .object(pairs) }
                let key = string
                pairs.append((key, try value(after: try next())))
            }
        case .endObject, .endArray, .end: throw fail("expected a value")
        }
    }
}
