import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct DemoDatabaseTests {
    func dump(_ path: String) throws -> [String] {
        let db = try Database(path: path)
        var lines: [String] = []
        for table in try SQLiteSchema.read(from: db).tableNames {
            try db.prepare("SELECT * FROM \(SQL.quote(table)) ORDER BY rowid").forEachRow { row in
                lines.append(table + ":" + row.row().map { "\($0)" }.joined(separator: "|"))
            }
        }
        return lines
    }

    @Test func theSameSeedMakesTheSameDatabase() throws {
        let a = try Fixtures.demo(posts: 150, seed: 42, name: "a")
        let b = try Fixtures.demo(posts: 150, seed: 42, name: "b")
        let c = try Fixtures.demo(posts: 150, seed: 43, name: "c")
        #expect(try dump(a) == dump(b))
        #expect(try dump(a) != dump(c))
    }

    @Test func randomTextHasTheSameShapeAndCompressesFarLessThanWords() throws {
        let dir = Fixtures.temporaryDirectory()
        var sizes: [DemoTextShape: (raw: Int, compressed: Int)] = [:]
        var counts: [DemoTextShape: [String: Int]] = [:]
        for shape in DemoTextShape.allCases {
            let path = dir.appendingPathComponent("\(shape.rawValue).sqlite").path
            counts[shape] = try DemoDatabase(options: .init(posts: 400, seed: 5, text: shape)).write(to: path).rows
            let db = try Database(path: path)
            var text: [UInt8] = []
            try db.prepare("SELECT title, body FROM _velo_posts UNION ALL SELECT body, '' FROM _velo_comments").forEachRow { row in
                for value in row.row() { text.append(contentsOf: Array((value.stringValue ?? "").utf8)) }
            }
            var compressed = 0
            let compressor = try ZstdCompressor(level: 3, workers: 0) { compressed += $0.count }
            try text.withUnsafeBytes { try compressor.write($0) }
            try compressor.finish()
            sizes[shape] = (text.count, compressed)
            if shape == .random {
                let body = try #require(try db.scalar("SELECT body FROM _velo_posts WHERE body IS NOT NULL LIMIT 1")?.stringValue)
                let words = Set(DemoText.words.map { String(decoding: $0, as: UTF8.self) })
                let drawn = body.split(whereSeparator: { " .\n".contains($0) }).map { $0.lowercased() }
                #expect(drawn.allSatisfy { (2...9).contains($0.count) && $0.allSatisfy { ("a"..."z").contains($0) } }, "\(body)")
                #expect(drawn.filter { words.contains($0) }.count < drawn.count / 10, "\(body)")
            }
        }
        #expect(counts[.words]?.keys.sorted() == counts[.random]?.keys.sorted())
        #expect(counts[.words]?["_velo_posts"] == 400 && counts[.random]?["_velo_posts"] == 400)
        let words = try #require(sizes[.words]), random = try #require(sizes[.random])
        let wordsRatio = Double(words.raw) / Double(words.compressed), randomRatio = Double(random.raw) / Double(random.compressed)
        #expect(wordsRatio > 3.5 && randomRatio < 2.0, "words \(wordsRatio)x, random \(randomRatio)x")
    }

    @Test func itIsAHealthyVeloquentTenant() throws {
        let path = try Fixtures.demo(posts: 300)
        let db = try Database(path: path)
        #expect(try db.scalar("PRAGMA integrity_check") == .text("ok"))
        #expect(try db.rows("PRAGMA foreign_key_check").isEmpty)
        let layout = try TenantDatabase.load(db)
        #expect(layout.collections.map(\.name) == ["comments", "oauth", "otps", "posts", "superusers", "tags", "users"])
        #expect(layout.schemaVersion == Migrations.tenant.last)
        #expect(try db.scalar("SELECT count(*) FROM _velo_posts") == .integer(300))
        // Every managed index the metadata asks for exists under Veloquent's name.
        for c in layout.collections {
            for name in c.managedIndexNames {
                #expect(layout.schema.table(c.tableName)?.indexes.contains { $0.name == name } == true, "\(name)")
            }
        }
        let pivot = try #require(layout.pivots.first)
        #expect(layout.schema.table(pivot.name)?.indexes.contains { $0.name == PivotTable.uniqueIndexName(pivot: pivot.name) } == true)
        // Relations point at rows that exist.
        #expect(
            try db.scalar("SELECT count(*) FROM _velo_posts WHERE author IS NOT NULL AND author NOT IN (SELECT id FROM _velo_users)")
                == .integer(0))
        #expect(try db.scalar("SELECT count(*) FROM _velo_comments WHERE post NOT IN (SELECT id FROM _velo_posts)") == .integer(0))
        #expect(
            try db.scalar("SELECT count(*) FROM \(SQL.quote(pivot.name)) WHERE target_id NOT IN (SELECT id FROM _velo_tags)") == .integer(0)
        )
    }

    @Test func valuesHaveVeloquentsStoredShapes() throws {
        let db = try Database(path: try Fixtures.demo(posts: 100))
        // Lowercase ULIDs for records, uppercase for superusers and pivot rows.
        for id in try db.rows("SELECT id FROM _velo_posts UNION ALL SELECT id FROM _velo_users").compactMap({ $0[0].stringValue }) {
            #expect(ULID.isValid(id) && id == id.lowercased(), "\(id)")
        }
        for id in try db.rows("SELECT id FROM superusers UNION ALL SELECT id FROM _velo_posts_tags_tags_pivot").compactMap({
            $0[0].stringValue
        }) {
            #expect(ULID.isValid(id) && id == id.uppercased(), "\(id)")
        }
        let hash = try #require(try db.scalar("SELECT password FROM _velo_users LIMIT 1")?.stringValue)
        #expect(hash.hasPrefix("$2y$12$") && hash.count == 60)
        let stamp = try #require(try db.scalar("SELECT created_at FROM _velo_posts LIMIT 1")?.stringValue)
        #expect(stamp.range(of: #"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"#, options: .regularExpression) != nil)
        for meta in try db.rows("SELECT meta FROM _velo_posts WHERE meta IS NOT NULL").compactMap({ $0[0].stringValue }) {
            #expect(throws: Never.self) { try JSONParser.parse(meta) }
        }
        #expect(try db.scalar("SELECT count(*) FROM superusers") == .integer(3))
        #expect(try db.scalar("SELECT count(*) FROM settings WHERE \"group\" = 'ai'") == .integer(3))
        #expect(try db.scalar("SELECT fields FROM collections WHERE name = 'posts'")?.stringValue?.contains(#"image\/png"#) == true)
    }

    @Test func refusesToOverwriteWithoutForceAndLeavesNoTemporaryFile() throws {
        let path = try Fixtures.demo(posts: 5)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: VeloError.self) {
            try DemoDatabase(options: .init(posts: 10)).write(to: path)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        try DemoDatabase(options: .init(posts: 10, force: true)).write(to: path)
        #expect(try Database(path: path).scalar("SELECT count(*) FROM _velo_posts") == .integer(10))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        #expect(leftovers == ["demo.sqlite"])
    }

    @Test func walModeIsAvailable() throws {
        let path = try Fixtures.demo(posts: 5, journalMode: "wal")
        #expect(try Database(path: path).pragma("journal_mode") == .text("wal"))
    }

    @Test func ulidsEncode128BitsInCrockfordBase32() {
        #expect(ULID.string(milliseconds: 0, high: 0, low: 0) == String(repeating: "0", count: 26))
        #expect(
            ULID.string(milliseconds: 0xFFFF_FFFF_FFFF, high: 0xFFFF, low: .max, uppercase: true) == "7" + String(repeating: "Z", count: 25)
        )
        #expect(ULID.string(milliseconds: 1, high: 0, low: 0).prefix(10) == "0000000001")
    }
}
