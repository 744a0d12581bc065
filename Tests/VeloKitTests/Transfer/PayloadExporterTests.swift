import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The payload's exact shape: keys, key order, value types, records order, errors.
@Suite struct PayloadExporterTests {
    typealias F = TransferFixtures

    @Test func theShapeIsVeloquents() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try Fixtures.demo(posts: 40)
        let (path, json) = try F.export(db, in: dir, systemTables: ["oauth_providers", "superusers"])
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(json.objectValue?.map(\.0) == ["version", "exported_at", "metadata", "records"])
        #expect(json["version"] == .number("1"))
        let exportedAt = try #require(json["exported_at"]?.stringValue)
        #expect(exportedAt.count == 25 && exportedAt.hasSuffix("+00:00") && Timestamp.parseISO8601(exportedAt) != nil)
        let collections = try #require(json["metadata"]?["collections"]?.arrayValue)
        #expect(collections.compactMap { $0["name"]?.stringValue } == ["comments", "posts", "tags", "users"])
        for c in collections {
            #expect(
                c.objectValue?.map(\.0) == ["id", "type", "is_system", "name", "description", "fields", "api_rules", "indexes", "options"])
            #expect(c["is_system"] == .bool(false))
            for field in c["fields"]?.arrayValue ?? [] {
                #expect(field.objectValue?.map(\.0) == TransferPayload.fieldProperties)
                #expect(field["order"]?.intValue != nil && field["nullable"]?.boolValue != nil)
            }
            for index in c["indexes"]?.arrayValue ?? [] { #expect(index.objectValue?.map(\.0) == ["columns", "type"]) }
        }
        let pivot = PivotTable.name("posts", "tags", field: "tags")
        #expect(
            json["records"]?.objectValue?.map(\.0) == [
                "_velo_comments", "_velo_posts", pivot, "_velo_tags", "_velo_users", "oauth_providers", "superusers",
            ])
        // Every row is the table's row, column for column, with SQLite's value types.
        let database = try Database(path: db)
        for (table, rows) in json["records"]?.objectValue ?? [] {
            let expected = try database.prepare("SELECT * FROM \(SQL.quote(table))")
            var i = 0
            try expected.forEachRow { row in
                let got = rows.arrayValue![i]
                i += 1
                #expect(got.objectValue?.map(\.0) == row.columnNames)
                for (c, name) in row.columnNames.enumerated() {
                    let value = row.value(Int32(c))
                    switch value {
                    case .null: #expect(got[name] == .null)
                    case .integer(let n): #expect(got[name] == .number(String(n)))
                    case .real(let d):
                        #expect(
                            got[name]?.doubleValue == d
                                && got[name].map { JSONWriter.string($0).contains(".") || JSONWriter.string($0).contains("e") } == true)
                    case .text(let s): #expect(got[name] == .string(s))
                    case .blob: Issue.record("a blob in the demo")
                    }
                }
            }
            #expect(i == rows.arrayValue?.count)
        }
    }

    @Test func errorsAreVeloquents() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try Fixtures.demo(posts: 5)
        #expect { try F.export(db, in: dir, systemTables: ["settings"]) } throws: {
            ($0 as? VeloError)?.message == "Table 'settings' is not allowed for export/import."
        }
        try Database(path: db, mode: .readWrite).execute("DROP TABLE _velo_comments")
        #expect { try F.export(db, in: dir, collections: ["comments"]) } throws: {
            ($0 as? VeloError)?.message == "Table '_velo_comments' does not exist."
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("export.json").path))
        // Metadata alone needs no table; unknown names are left out, as Veloquent's whereIn leaves them.
        let json = try F.export(db, in: dir, collections: ["comments", "nope"], records: false).json
        #expect(json["metadata"]?["collections"]?.arrayValue?.count == 1 && json["records"] == nil)
        // No table at all: PHP's empty array.
        #expect(try F.export(db, in: dir, collections: ["nope"], name: "none.json").json["records"] == .array([]))
    }

    @Test func anExportedFieldHasAll18PropertiesWithPHPTypes() throws {
        let stored = try JSONParser.parse(
            #"{"id":"8ef02886","name":"email","type":"email","order":"1","nullable":0,"unique":true,"min":"3","max":null,"length":255,"default":null}"#
        )
        let exported = TransferFieldShape.exported(stored)
        #expect(
            JSONWriter.string(exported)
                == #"{"name":"email","type":"email","order":1,"nullable":false,"unique":true,"default":null,"id":"8ef02886","min":3,"max":null,"multiple":false,"max_size_kb":null,"allowed_mime_types":[],"protected":false,"target_collection_id":null,"cascade_on_delete":false,"allow_decimals":null,"options":[],"pivot_fields":[]}"#
        )
        let legacy = TransferFieldShape.exported(try JSONParser.parse(#"{"id":null,"name":"at","type":"timestamp","order":0}"#))
        #expect(legacy["type"] == .string("datetime") && legacy["id"] == .null)
        let number = TransferFieldShape.stored(try JSONParser.parse(#"{"name":"n","type":"number"}"#))
        #expect(
            number.objectValue?.map(\.0) == [
                "id", "name", "type", "order", "nullable", "unique", "min", "max", "allow_decimals", "default",
            ])
        let file = TransferFieldShape.stored(try JSONParser.parse(#"{"name":"f","type":"file","default":1}"#))
        #expect(file["default"] == nil && file["max_size_kb"] == .null)
    }
}
