import Testing
@testable import VeloKit

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
}
