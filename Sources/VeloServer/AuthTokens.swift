import Crypto
import Foundation
import VeloKit

/// Veloquent's opaque bearer tokens, read and written exactly as its `DefaultTokenAuthService` does, so a token
/// either side issues works on the other: 32 random bytes as 64 hex characters are handed out once; the tenant's
/// `auth_tokens` keeps only their SHA-256 (hex), the record, the expiry (`Y-m-d H:i:s`, UTC) and, in a database
/// of Veloquent 2.8 or later, `revoked_at` and the login's address, user agent and fingerprint
/// (`AuthTokenColumns`). A token is valid while unexpired and unrevoked; its expiry slides to a full lifetime
/// from now once less than half of it is left (not in a database before 2.8, as that Veloquent did not); a record keeps at most `maxActive` active tokens, the older ones are revoked
/// (deleted, before 2.8, as that Veloquent did).
struct AuthTokens {
    let database: Database
    let lifetime: Int64
    let maxActive: Int
    let columns: AuthTokenColumns

    /// - Throws: `AuthTokenColumns.missingTable` when the database has no `auth_tokens` velo can use.
    init(database: Database, lifetime: Int64, maxActive: Int) throws {
        guard let columns = try AuthTokenColumns.read(database) else { throw AuthTokenColumns.missingTable }
        self.database = database
        self.lifetime = lifetime
        self.maxActive = maxActive
        self.columns = columns
    }

    /// What login returns.
    struct Issued {
        var token: String
        var expiresIn: Int64
        var collectionName: String
    }

    /// sha256(token) as lowercase hex, Veloquent's `token_hash`.
    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    /// Laravel's `Y-m-d H:i:s` (UTC) as Unix seconds.
    static func parseLaravel(_ text: String) -> Int64? {
        let head = String(text.prefix(19))
        guard head.count == 19 else { return nil }
        return Timestamp.parseISO8601(head.replacingOccurrences(of: " ", with: "T") + "Z")
    }

    /// What Veloquent records about the login with a token (2.8 and later).
    struct LoginMetadata {
        var ipAddress: String?
        var userAgent: String?
        var fingerprint: String
    }

    /// A new token for `record` of `collection`, stored as Veloquent stores it; then the record's oldest active
    /// tokens beyond `maxActive` are revoked.
    func issue(collectionID: String, collectionName: String, recordID: String, metadata: LoginMetadata) throws -> Issued {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token = bytes.map { String(format: "%02x", $0) }.joined()
        let now = Self.now()
        let id = ULID.string(
            milliseconds: UInt64(Date().timeIntervalSince1970 * 1000), high: UInt16.random(in: 0...UInt16.max),
            low: UInt64.random(in: 0...UInt64.max))
        var values: [(String, SQLiteValue)] = [
            ("id", .text(id)), ("collection_name", .text(collectionName)), ("collection_id", .text(collectionID)),
            ("record_id", .text(recordID)), ("token_hash", .text(Self.hash(token))),
            ("expires_at", .text(Timestamp.format(now + lifetime))),
        ]
        if columns.requestMetadata {
            values += [
                ("ip_address", metadata.ipAddress.map { .text($0) } ?? .null),
                ("user_agent", metadata.userAgent.map { .text($0) } ?? .null), ("fingerprint", .text(metadata.fingerprint)),
            ]
        }
        values += [("created_at", .text(Timestamp.format(now))), ("updated_at", .text(Timestamp.format(now)))]
        try database.transaction(.immediate) {
            try database.prepare(
                "INSERT INTO \"auth_tokens\" (\(SQL.quoteList(values.map(\.0)))) VALUES (\(values.map { _ in "?" }.joined(separator: ", ")))"
            ).run(values.map(\.1))
            if maxActive > 0 {
                // Veloquent orders by id (a ULID: creation order) and revokes all but the newest `maxActive`.
                try revoke(
                    where: """
                        "id" IN (SELECT "id" FROM "auth_tokens" WHERE "collection_id" = ? AND "record_id" = ? AND "expires_at" > ?\(active)
                          ORDER BY "id" DESC LIMIT -1 OFFSET ?)
                        """,
                    [.text(collectionID), .text(recordID), .text(Timestamp.format(now)), .integer(Int64(maxActive))])
            }
        }
        return Issued(token: token, expiresIn: lifetime, collectionName: collectionName)
    }

    /// ` AND "revoked_at" IS NULL` where tokens can be revoked.
    private var active: String { columns.revocation ? #" AND "revoked_at" IS NULL"# : "" }

    /// Revokes the tokens `condition` selects: sets `revoked_at`, or deletes them in a database before 2.8.
    private func revoke(where condition: String, _ values: [SQLiteValue]) throws {
        let now = Timestamp.format(Self.now())
        if columns.revocation {
            try database.prepare(
                #"UPDATE "auth_tokens" SET "revoked_at" = ?, "updated_at" = ? WHERE "revoked_at" IS NULL AND "# + condition
            ).run([.text(now), .text(now)] + values)
        } else {
            try database.prepare(#"DELETE FROM "auth_tokens" WHERE "# + condition).run(values)
        }
    }

    /// `DELETE .../auth/logout`: revokes this token.
    func revoke(token: String) throws {
        try revoke(where: #""token_hash" = ?"#, [.text(Self.hash(token))])
    }

    /// `DELETE .../auth/logout-all`: revokes every token of the record.
    func revokeAll(of record: AuthenticatedRecord) throws {
        try revoke(where: #""collection_id" = ? AND "record_id" = ?"#, [.text(record.collectionID), .text(record.recordID)])
    }

    /// The record a token belongs to, or nil when it is unknown, expired, revoked, or its record or collection is
    /// gone. Marks it used, and slides its expiry as Veloquent does.
    func authenticate(_ token: String) throws -> AuthenticatedRecord? {
        guard !token.isEmpty, token.utf8.count <= 512 else { return nil }
        let hash = Self.hash(token)
        let now = Self.now()
        let rows = try database.rows(
            """
            SELECT "collection_id", "record_id", "expires_at" FROM "auth_tokens"
            WHERE "token_hash" = ? AND "expires_at" > ?\(active) LIMIT 1
            """, [.text(hash), .text(Timestamp.format(now))])
        guard let row = rows.first, let collectionID = row[0].stringValue, let recordID = row[1].stringValue,
            let expiresText = row[2].stringValue, let expires = Self.parseLaravel(expiresText)
        else { return nil }
        let collections = try database.rows("SELECT \"name\", \"table_name\" FROM \"collections\" WHERE \"id\" = ?", [.text(collectionID)])
        guard let collection = collections.first, let name = collection[0].stringValue, let table = collection[1].stringValue else {
            return nil
        }
        guard try database.scalar("SELECT 1 FROM \(SQL.quote(table)) WHERE \"id\" = ?", [.text(recordID)]) != nil else { return nil }
        // Slide the expiry to now + the configured lifetime when less than half of it remains (Veloquent 2.9 on:
        // its diff of expiry and creation is signed and negative, so it always uses the configured lifetime);
        // before 2.8's migration Veloquent never slid a token, only recorded its use.
        let slide = columns.revocation && expires - now < lifetime / 2
        try? database.prepare(
            """
            UPDATE "auth_tokens" SET "last_used_at" = ?, "expires_at" = CASE WHEN ? THEN ? ELSE "expires_at" END
            WHERE "token_hash" = ?\(active)
            """
        ).run([.text(Timestamp.format(now)), .integer(slide ? 1 : 0), .text(Timestamp.format(now + lifetime)), .text(hash)])
        return AuthenticatedRecord(collectionID: collectionID, collectionName: name, collectionTable: table, recordID: recordID)
    }
}
