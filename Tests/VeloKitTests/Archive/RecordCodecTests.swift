import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct RecordCodecTests {
    /// Encodes `values` through a real SQLite row and decodes them back.
    func roundTrip(_ values: [SQLiteValue]) throws -> (line: String, back: [RecordValue]) {
        let db = try Database(path: ":memory:", mode: .create)
        let select = try db.prepare("SELECT " + values.indices.map { "?\($0 + 1)" }.joined(separator: ", "))
        try select.bind(values)
        #expect(try select.step())
        let out = ByteBuffer()
        RecordEncoder(columnCount: values.count).appendRow(of: select, to: out)
        let line = Array(out.bytes)
        #expect(line.last == 0x0A)
        let body = Array(line.dropLast())
        #expect(body.withUnsafeBytes { RowValidator(columnCount: values.count).problem(in: $0) } == nil)
        return (String(decoding: body, as: UTF8.self), try RecordDecoder.decode(body))
    }

    static let awkward: [SQLiteValue] = [
        .null, .integer(.min), .integer(.max), .integer(0), .integer(-1),
        .real(-0.0), .real(.leastNonzeroMagnitude), .real(.greatestFiniteMagnitude), .real(-.greatestFiniteMagnitude), .real(0.1),
        .real(1e21), .real(123.0), .real(.infinity), .real(-.infinity),
        .text(""), .text("a\u{0}b"), .text("\u{1}\u{1F}\u{7F}\t\n\r\"\\/"), .text("emoji 🦤 👩‍👩‍👧 é ß 中文"),
        .text("{\"$blob\":\"AAAA\"}"), .text("12"), .text("null"),
        .blob([]), .blob([0, 1, 2, 255]), .blob(Array("text in a blob".utf8)),
    ]

    @Test func everyStorageClassComesBackBitForBit() throws {
        let (_, back) = try roundTrip(Self.awkward)
        #expect(back.count == Self.awkward.count)
        for (original, decoded) in zip(Self.awkward, back) {
            #expect(decoded.sqliteValue.isIdentical(to: original), "\(original) came back as \(decoded)")
        }
    }

    @Test func encodingIsTheDocumentedOne() throws {
        let (line, _) = try roundTrip([.integer(42), .real(-0.0), .real(2.0), .text("x\"y"), .blob([0xFF]), .null, .real(.infinity)])
        #expect(line == #"[42,-0.0,2.0,"x\"y",{"$blob":"/w=="},null,{"$real":"inf"}]"#)
    }

    @Test func aMillionByteStringRoundTrips() throws {
        let big = String(repeating: "0123456789abcdef🦤", count: 1 << 16)
        let (_, back) = try roundTrip([.text(big)])
        #expect(back == [.text(Array(big.utf8))])
    }

    @Test func textThatIsNotUTF8IsKeptAsItsBytes() throws {
        let db = try Database(path: ":memory:", mode: .create)
        let select = try db.prepare("SELECT ?")
        let bytes: [UInt8] = [0x61, 0xFF, 0xFE, 0x00, 0xC3]
        try bytes.withUnsafeBytes { try select.bindText($0, at: 1) }
        #expect(try select.step())
        let out = ByteBuffer()
        RecordEncoder(columnCount: 1).appendRow(of: select, to: out)
        let line = Array(out.bytes.dropLast())
        #expect(String(decoding: line, as: UTF8.self) == #"[{"$text":"Yf/+AMM="}]"#)
        #expect(try RecordDecoder.decode(line) == [.text(bytes)])
    }

    @Test(arguments: [
        ("[1,2]", 3, "has 2 values"), ("{\"a\":1}", 1, "does not start"), ("[1,]", 2, "value 2"), ("[\"abc]", 1, "value 1"),
        ("[01]", 1, "value 1"), ("[{\"$nope\":\"x\"}]", 1, "unknown value marker"), ("[1] x", 1, "data after"),
        ("[\"\\q\"]", 1, "value 1"), ("[true]", 1, "value 1"),
        ("[{\"$blob\":\"@@@=\"}]", 1, "not valid base64"), ("[{\"$blob\":\"AAA\"}]", 1, "not valid base64"),
        ("[{\"$real\":\"foo\"}]", 1, "not inf, -inf or nan"), ("[{\"$text\":\"A=AA\"}]", 1, "not valid base64"),
    ])
    func validatorRejectsBadRows(line: String, columns: Int, reason: String) {
        var line = line
        let problem = line.withUTF8 { RowValidator(columnCount: columns).problem(in: UnsafeRawBufferPointer($0)) }
        #expect(problem?.contains(reason) == true, "\(line): \(problem ?? "accepted")")
    }

    @Test func validatorRejectsInvalidUTF8InStrings() {
        let line: [UInt8] = [0x5B, 0x22, 0x61, 0xC3, 0x28, 0x22, 0x5D]
        #expect(line.withUnsafeBytes { RowValidator(columnCount: 1).problem(in: $0) } != nil)
    }

    @Test func escapingHandlesEveryASCIIByteAtEveryPosition() throws {
        func expected(_ b: UInt8) -> String {
            switch b {
            case 0x22: return "\\\""
            case 0x5C: return "\\\\"
            case 0x0A: return "\\n"
            case 0x0D: return "\\r"
            case 0x09: return "\\t"
            case 0..<0x20: return String(format: "\\u%04x", b)
            default: return String(UnicodeScalar(b))
            }
        }
        // Every byte, at every offset of the eight-byte fast path.
        for shift in 0..<8 {
            let bytes = Array(repeating: UInt8(ascii: "a"), count: shift) + Array(UInt8(0)...UInt8(127))
            let out = ByteBuffer()
            #expect(bytes.withUnsafeBytes { JSONEscaping.appendValidatedString($0, to: out) })
            let want = "\"" + String(repeating: "a", count: shift) + (0...127).map { expected(UInt8($0)) }.joined() + "\""
            #expect(String(decoding: out.bytes, as: UTF8.self) == want)
            #expect(try JSONParser.parse(Array(out.bytes)) == .string(String(decoding: bytes, as: UTF8.self)))
        }
    }
}

@Suite struct LineSplitterTests {
    @Test func cutsLinesAcrossChunksAndRefusesOneLongerThanTheLimit() throws {
        var splitter = LineSplitter(maxLine: 8)
        var lines: [String] = []
        for chunk in ["ab", "c\nde", "f\n\n12345678\n"] {
            try Array(chunk.utf8).withUnsafeBytes { try splitter.feed($0) { lines.append(String(decoding: $0, as: UTF8.self)) } }
        }
        #expect(lines == ["abc", "def", "", "12345678"])
        #expect(!splitter.hasPartialLine)
        // The carry never grows past the limit, whether the line ends in this chunk or not.
        for input in ["123456789\n", "12345", "6789"] {
            do {
                try Array(input.utf8).withUnsafeBytes { try splitter.feed($0) { _ in } }
            } catch let error as LineSplitter.LineTooLong {
                #expect(error.line == 5)
                return
            }
        }
        Issue.record("a 9-byte line passed an 8-byte limit")
    }
}
