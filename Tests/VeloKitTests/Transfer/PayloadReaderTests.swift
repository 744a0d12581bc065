import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Bad and awkward payloads: a clear one-line error naming the place, and nothing written.
@Suite struct PayloadReaderTests {
    typealias F = TransferFixtures

    struct Rows: PayloadReader.RecordsSink {
        var seen: [String] = []
        mutating func beginTable(_ table: String) throws { seen.append("begin \(table)") }
        mutating func row(_ table: String, _ row: Int, _ values: [(String, JSONValue)]) throws {
            seen.append("\(table) \(row) \(JSONWriter.string(.object(values)))")
        }
        mutating func endTable(_ table: String) throws { seen.append("end \(table)") }
    }

    let body =
        #"{"version":1,"exported_at":"2026-06-30T15:04:05+00:00","metadata":{"collections":[{"name":"a"}]},"records":{"t":[{"id":"x","n":1,"j":"{\"k\":[1]}"}]}}"#

    @Test func theThreeWrappingsReadTheSame() throws {
        let dir = Fixtures.temporaryDirectory()
        for (text, wrapping, conflict) in [
            (body, TransferPayload.Wrapping.bare, nil as String?),
            (#"{"message":"OK","data":\#(body)}"#, .envelope, nil),
            (#"{"conflict":"overwrite","payload":\#(body)}"#, .requestBody, "overwrite"),
        ] {
            let path = try F.write(text, in: dir, name: "\(wrapping.rawValue).json")
            let header = try PayloadReader(path: path).readHeader()
            #expect(header.wrapping == wrapping)
            #expect(header.version == 1 && header.exportedAt == "2026-06-30T15:04:05+00:00")
            #expect(header.collections == [.object([("name", .string("a"))])])
            #expect(header.conflict == conflict)
            var rows = Rows()
            try PayloadReader(path: path).readRecords(into: &rows)
            #expect(rows.seen == ["begin t", #"t 1 {"id":"x","n":1,"j":"{\"k\":[1]}"}"#, "end t"])
        }
        // A conflict after the payload is found by the records pass.
        let late = try F.write(#"{"payload":\#(body),"conflict":"overwrite"}"#, in: dir, name: "late.json")
        var rows = Rows()
        #expect(try PayloadReader(path: late).readRecords(into: &rows) == "overwrite")
    }

    func refused(_ text: String, _ expected: [String], name: String = #function) throws {
        let dir = Fixtures.temporaryDirectory(name)
        let path = try F.write(text, in: dir)
        let target = try F.emptyTenant(in: dir)
        let before = F.bytes(target)
        do {
            try F.importPayload(path, into: target)
            Issue.record("accepted: \(text.prefix(80))")
        } catch let error as VeloError {
            #expect(!error.message.contains("\n"))
            #expect(error.message.hasPrefix(path))
            for part in expected { #expect(error.message.contains(part), "\(error.message)") }
        }
        #expect(F.bytes(target) == before)
    }

    @Test func notJSON() throws { try refused("hello", ["malformed JSON at byte 0", "unexpected character 'h'"]) }

    @Test func truncatedJSON() throws {
        try refused(String(body.dropLast(20)), ["records.t row 1", "malformed JSON", "unterminated string"])
    }

    /// Between rows, the error names the last row read (the place is made only for the error).
    @Test func garbageBetweenRows() throws {
        try refused(#"{"version":1,"records":{"t":[{"id":"a"},{"id":"b"} x]}}"#, ["records.t row 2", "malformed JSON"])
    }

    @Test func anotherVersion() throws {
        try refused(#"{"version":2,"metadata":{"collections":[]}}"#, ["payload version 2", "version 1"])
    }

    @Test func aTableNameWithQuotes() throws {
        try refused(#"{"version":1,"records":{"t\"; drop table x; --":[]}}"#, ["records", "is not a Veloquent table name"])
    }

    @Test func tenThousandNestedBrackets() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        try refused(#"{"version":1,"metadata":{"collections":\#(deep)}}"#, ["metadata.collections", "nested deeper than 256 levels"])
        try refused(
            #"{"version":1,"records":{"t":[{"id":\#(deep)}]}}"#, ["records.t row 1", "column id", "nested deeper"], name: "deepRow")
    }

    @Test func aStringLargerThanTheLimitNamesTheTableAndRow() throws {
        let dir = Fixtures.temporaryDirectory()
        let big = String(repeating: "x", count: 3 << 20)
        let path = try F.write(#"{"version":1,"records":{"_velo_users":[{"id":"a"},{"id":"b"},{"id":"c","name":"\#(big)"}]}}"#, in: dir)
        let target = try F.emptyTenant(in: dir)
        let before = F.bytes(target)
        #expect {
            try F.importPayload(path, into: target, maxStringBytes: 1 << 20)
        } throws: { error in
            let message = (error as? VeloError)?.message ?? ""
            return message.contains("records._velo_users row 3 (id \"c\"), column name")
                && message.contains("longer than 1 MiB, the limit of one value") && !message.contains("malformed")
        }
        #expect(F.bytes(target) == before)
    }

    @Test func theTokenizerReadsAcrossItsBufferAndDecodesEscapes() throws {
        let dir = Fixtures.temporaryDirectory()
        let long = String(repeating: "é\\\"\\u00e9\\ud83d\\ude00", count: 200_000)  // well past the 1 MiB buffer
        let path = try F.write(#"[1.5e3, -0, true, false, null, "\#(long)", {"k": {}}]"#, in: dir)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let tokens = JSONTokenizer(fd: fd, maxStringBytes: 64 << 20)
        let value = try tokens.value(after: try tokens.next())
        #expect(try tokens.next() == .end)
        let expected = try JSONParser.parse(try FileSystem.read(path))
        #expect(value == expected)
    }
}
