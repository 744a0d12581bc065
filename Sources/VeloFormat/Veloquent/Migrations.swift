/// The Laravel migrations Veloquent ships, which tell the schema version of a database.
package enum Migrations {
    /// Tenant migrations in run order (`database/migrations/tenant/`, veloquent/core 2.x).
    package static let tenant: [String] = [
        "0001_01_01_000000_create_collections_table",
        "0001_01_01_000001_create_superusers_table",
        "0001_01_01_000002_create_cache_table",
        "0001_01_01_000003_create_jobs_table",
        "0001_01_01_000004_create_schema_jobs_table",
        "0001_01_01_000006_create_auth_tokens_table",
        "0001_01_01_000008_create_otp_tokens_table",
        "0001_01_01_000009_create_email_templates_table",
        "0001_01_01_000010_create_oauth_providers_table",
        "0001_01_01_000011_create_oauth_accounts_table",
        "0001_01_01_000012_create_users_table",
        "2022_12_14_083707_create_settings_table",
        "2026_04_28_133148_create_tenant_settings",
        "2026_05_17_100000_remove_timezone_from_general_settings",
        "2026_06_02_190000_create_ai_settings_and_agents_collection",
        "2026_06_11_202435_add_fingerprint_and_revocation_to_auth_tokens_table",
    ]

    /// The oldest schema velo reads and writes: veloquent/core 2.0's (its settings rows are the last migration
    /// before it; older databases predate the opaque tokens and the collection layout velo knows).
    package static let oldestSupported = "2026_04_28_133148_create_tenant_settings"

    /// The migration that gives `auth_tokens` revocation and the login's metadata (veloquent/core 2.8).
    package static let authTokenMetadata = "2026_06_11_202435_add_fingerprint_and_revocation_to_auth_tokens_table"

    /// Whether velo knows the migration (a tenant one).
    package static func isKnown(_ name: String) -> Bool { tenant.contains(name) }

    /// The schema version: the last applied migration in Laravel's order (by name, which starts with its date).
    package static func schemaVersion(applied: [String]) -> String? {
        applied.max()
    }

    /// Known tenant migrations that are not in `applied`.
    package static func missing(from applied: [String]) -> [String] {
        let set = Set(applied)
        return tenant.filter { !set.contains($0) }
    }
}
