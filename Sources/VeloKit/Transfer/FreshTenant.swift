import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// An empty Veloquent tenant database, as a fresh installation leaves it: every tenant migration's DDL, the
/// `migrations` rows, and the collections the migrations make (`superusers`, `otps`, `oauth`, `users`). What an
/// import into a database that does not exist yet starts from. Settings rows are not seeded (Veloquent seeds
/// its defaults on first use of each group).
enum FreshTenant {
    /// Creates the database at `path`, which must not exist.
    static func create(at path: String) throws {
        let db = try Database(path: path, mode: .create)
        try db.execute("PRAGMA journal_mode = DELETE")
        var random = SystemRandomNumberGenerator()
        let now = Timestamp.now
        func id(_ uppercase: Bool = false) -> String {
            ULID.string(
                milliseconds: UInt64(now) * 1000, high: UInt16.random(in: 0...UInt16.max, using: &random),
                low: UInt64.random(in: 0...UInt64.max, using: &random), uppercase: uppercase)
        }
        let ids = (0..<8).map { _ in id() }
        let demo = DemoCollections(ids: { ids[$0] }, superusersID: id(true), createdAt: Timestamp.format(now))
        let rows = demo.rows.filter { ["superusers", "otps", "oauth", "users"].contains($0[3].stringValue ?? "") }
        var metadata: [String: CollectionMetadata] = [:]
        for row in rows {
            let c = try CollectionMetadata(columns: zip(DemoCollections.columns, row).map { (name: $0, value: $1) }, path: path)
            metadata[c.name] = c
        }
        try db.transaction(.immediate) {
            func insert(_ name: String) throws {
                let row = rows.first { $0[3] == .text(name) }!
                try db.execute(
                    "insert into \"collections\" (\(SQL.quoteList(DemoCollections.columns))) values (\(Array(repeating: "?", count: row.count).joined(separator: ", ")))",
                    row)
            }
            for migration in SystemSchema.migrations {
                for sql in migration.statements { try db.execute(sql) }
                switch migration.name {
                case "0001_01_01_000001_create_superusers_table": try insert("superusers")
                case "0001_01_01_000008_create_otp_tokens_table": try insert("otps")
                case "0001_01_01_000011_create_oauth_accounts_table": try insert("oauth")
                case "0001_01_01_000012_create_users_table":
                    let users = metadata["users"]!
                    try db.execute(CollectionDDL.createTable(users))
                    for sql in CollectionDDL.createIndexes(users) { try db.execute(sql) }
                    try insert("users")
                default: break
                }
                if !migration.name.isEmpty {
                    try db.execute("insert into \"migrations\" (\"migration\", \"batch\") values (?, 1)", [.text(migration.name)])
                }
            }
        }
    }
}
