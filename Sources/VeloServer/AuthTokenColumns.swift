import VeloKit

/// Which generation of Veloquent's `auth_tokens` a tenant database has, read from its columns, so that velo
/// reads and writes tokens as the Veloquent that made the database does:
/// - since `2026_06_11_202435_add_fingerprint_and_revocation_to_auth_tokens_table` (veloquent/core 2.8.0): a
///   token is revoked by setting `revoked_at`, and login records the client's address, user agent and
///   fingerprint;
/// - before it (2.0 to 2.7): there is no revocation column, so a revoked token (logout, over the active limit)
///   is deleted, and only the token's record and expiry are stored.
/// A database without the table predates `0001_01_01_000006_create_auth_tokens_table`: no token can be issued
/// or accepted there, and login says which migration is missing.
struct AuthTokenColumns: Sendable, Equatable {
    /// The migration that creates the table.
    static let tableMigration = "0001_01_01_000006_create_auth_tokens_table"
    /// The migration that adds revocation and the request's metadata.
    static let revocationMigration = Migrations.authTokenMetadata

    /// `revoked_at` exists.
    var revocation: Bool
    /// `ip_address`, `user_agent` and `fingerprint` exist.
    var requestMetadata: Bool

    /// The columns of `auth_tokens` in `database`; nil when the table is missing.
    static func read(_ database: Database) throws -> AuthTokenColumns? {
        let names = Set(try database.rows("SELECT name FROM pragma_table_info('auth_tokens')").compactMap { $0[0].stringValue })
        guard ["id", "collection_id", "record_id", "token_hash", "expires_at"].allSatisfy(names.contains) else { return nil }
        return AuthTokenColumns(
            revocation: names.contains("revoked_at"),
            requestMetadata: ["ip_address", "user_agent", "fingerprint"].allSatisfy(names.contains))
    }

    /// The refusal of a login on a database without the table: one line naming the migration.
    static var missingTable: APIError {
        .service(
            "This database has no usable auth_tokens table: Veloquent's migration \(tableMigration) has not run (php artisan migrate)."
        )
    }
}
