import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct JSONTests {
    @Test func keepsKeyOrderAndNumberText() throws {
        let text = #"{"z":1,"a":[true,false,null],"n":-0.0,"big":12345678901234567890,"e":5e-324}"#
        let value = try JSONParser.parse(text)
        #expect(value.objectValue?.map(\.0) == ["z", "a", "n", "big", "e"])
        #expect(value["n"] == .number("-0.0"))
        #expect(value["big"] == .number("12345678901234567890"))
        #expect(JSONWriter.string(value) == text)
    }

    @Test func decodesEscapesIncludingNulAndSurrogatePairs() throws {
        let value = try JSONParser.parse(#""a\u0000b\n\"\\\/ \ud83e\udda4 é""#)
        #expect(value == .string("a\u{0}b\n\"\\/ 🦤 é"))
        let written = JSONWriter.string(value)
        #expect(written == #""a\u0000b\n\"\\/ 🦤 é""#)
        #expect(try JSONParser.parse(written) == value)
    }

    @Test(arguments: [
        ("", 0), ("{", 1), (#"{"a" 1}"#, 5), ("[1,]", 3), (#""\ud800""#, 7), ("01", 1), (#"{"a":1} x"#, 8),
        ("\"tab\there\"", 4), ("nul", 0), ("-", 1),
    ])
    func reportsSyntaxErrorsWithTheirOffset(text: String, offset: Int) {
        do {
            _ = try JSONParser.parse(text)
            Issue.record("'\(text)' parsed")
        } catch let error as JSONParser.SyntaxError {
            #expect(error.offset == offset, "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func refusesHostileNesting() {
        let deep = String(repeating: "[", count: 10_000)
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(deep) }
    }

    @Test func realNumbersAlwaysReadBackAsTheSameBits() {
        for d in [0.0, -0.0, 1.0, 0.1, 5e-324, 1e300, -1.5, 123456789.125, .greatestFiniteMagnitude, .leastNormalMagnitude] {
            let text = JSONNumberText.real(d)
            #expect(text.contains(".") || text.contains("e"), "\(text)")
            #expect(Double(text)?.bitPattern == d.bitPattern, "\(text)")
        }
    }

    @Test func phpStyleEscapesSlashes() {
        #expect(JSONWriter.string(.string("image/png"), escapesSlashes: true) == #""image\/png""#)
        #expect(JSONWriter.string(.string("image/png")) == #""image/png""#)
    }

    @Test func encoderKeepsDeclarationOrderNullsAndSortsDictionaries() throws {
        struct Report: Encodable {
            var zeta = 1
            var fileBytes: Int64 = 2
            var missing: String? = nil
            var rows = ["b": 2, "a": 1]
            var ratio = 0.5
        }
        let value = try JSONValueEncoder().encode(Report())
        #expect(JSONWriter.string(value) == #"{"zeta":1,"file_bytes":2,"missing":null,"rows":{"a":1,"b":2},"ratio":0.5}"#)
    }

    @Test func snakeCaseKeepsAcronymsTogether() {
        #expect(JSONValueEncoder.snakeCase("fileBytes") == "file_bytes")
        #expect(JSONValueEncoder.snakeCase("archiveSHA256") == "archive_sha256")
        #expect(JSONValueEncoder.snakeCase("verifiedOK") == "verified_ok")
        #expect(JSONValueEncoder.snakeCase("sqliteVersion") == "sqlite_version")
        #expect(JSONValueEncoder.snakeCase("URLValue") == "url_value")
        #expect(JSONValueEncoder.snakeCase("id") == "id")
    }

    @Test func prettyOutputIndentsAndKeepsEmptyContainersShort() {
        let value = JSONValue.object([("a", .array([])), ("b", .object([("c", .int(1))]))])
        #expect(JSONWriter.string(value, pretty: true) == "{\n  \"a\": [],\n  \"b\": {\n    \"c\": 1\n  }\n}")
    }

    /// The escaper against a byte-at-a-time reference, on strings where a byte needing attention (a quote, a
    /// backslash, a slash, a control byte, a UTF-8 sequence, valid or not) falls at every position of the 16- and
    /// 8-byte steps and the tail.
    @Test func escapingMatchesAByteAtATimeReference() {
        func reference(_ bytes: [UInt8], slashes: Bool) -> [UInt8]? {
            var out: [UInt8] = [0x22]
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if b >= 0x80 {
                    let n = bytes.withUnsafeBytes { JSONEscaping.utf8SequenceLength($0.baseAddress! + i, available: bytes.count - i) }
                    if n == 0 { return nil }
                    out += bytes[i..<i + n]
                    i += n
                    continue
                }
                switch b {
                case 0x22: out += [0x5C, 0x22]
                case 0x5C: out += [0x5C, 0x5C]
                case 0x2F where slashes: out += [0x5C, 0x2F]
                case 0x0A: out += Array("\\n".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case 0x09: out += Array("\\t".utf8)
                case 0..<0x20: out += Array(String(format: "\\u%04x", Int(b)).utf8)
                default: out.append(b)
                }
                i += 1
            }
            return out + [0x22]
        }
        let specials: [[UInt8]] = [
            [0x22], [0x5C], [0x2F], [0x0A], [0x00], [0x1F], [0x7F], [0xC3, 0xA9], [0xE2, 0x82, 0xAC],
            [0xF0, 0x9F, 0x98, 0x80], [0xC3], [0xED, 0xA0, 0x80], [0xFF],
        ]
        var random = SeededRandom(seed: 42)
        for length in 0...40 {
            for special in specials {
                for position in 0...length {
                    var bytes = (0..<length).map { _ in UInt8(0x20 + random.below(0x5F)) }.filter { $0 != 0x22 && $0 != 0x5C && $0 != 0x2F }
                    bytes.insert(contentsOf: special, at: min(position, bytes.count))
                    for slashes in [false, true] {
                        let out = ByteBuffer()
                        let ok = bytes.withUnsafeBytes { JSONEscaping.appendValidatedString($0, to: out, escapingSlashes: slashes) }
                        let expected = reference(bytes, slashes: slashes)
                        #expect(ok == (expected != nil), "\(bytes)")
                        if let expected, ok {
                            #expect(Array(UnsafeBufferPointer(start: out.base, count: out.count)) == expected, "\(bytes)")
                        }
                    }
                }
            }
        }
    }
}
