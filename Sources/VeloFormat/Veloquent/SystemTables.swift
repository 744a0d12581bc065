/// What a table is for in a Veloquent database. Backups, restores and reports treat each role differently.
package enum TableRole: String, Sendable, Codable, CaseIterable {
    /// `collections`: the collection definitions.
    case metadata
    /// The table of a collection (system or user).
    case collection
    /// The pivot table of a relation_many field.
    case pivot
    /// Veloquent's own tables: settings, tokens, templates, oauth, migrations, schema_jobs.
    case system
    /// The landlord's `tenants` and `realtime_subscriptions`.
    case landlord
    /// Laravel's cache tables: derived data, safe to drop, stale after a restore.
    case frameworkCache = "framework-cache"
    /// Laravel's queue tables: transient work.
    case frameworkQueue = "framework-queue"
    /// SQLite's own tables (`sqlite_sequence`, `sqlite_stat1`, ...).
    case sqliteInternal = "sqlite-internal"
    /// A table with the collection prefix that no collection owns (see `velo schema orphans`).
    case orphan
    /// Any other table: not Veloquent's, kept so nothing is silently left out.
    case other
}

/// Veloquent's fixed tables and their roles.
package enum SystemTables {
    /// Tables the schema-transfer feature may export (`SchemaTransferService::EXPOSED_SYSTEM_TABLES`).
    package static let transferAllowList = [
        "superusers", "email_templates", "auth_tokens", "otp_tokens", "oauth_providers", "oauth_accounts",
    ]
    /// Tables the schema-transfer feature never exports (`EXCLUDED_TABLES`).
    package static let transferExcluded = [
        "cache", "cache_locks", "jobs", "job_batches", "failed_jobs", "schema_jobs", "migrations",
    ]
    /// Veloquent's own tables in a tenant database (besides `collections`).
    package static let veloquent = [
        "superusers", "auth_tokens", "otp_tokens", "email_templates", "oauth_providers", "oauth_accounts",
        "settings", "migrations", "schema_jobs",
    ]
    /// Laravel's database cache.
    package static let frameworkCache = ["cache", "cache_locks"]
    /// Laravel's database queue.
    package static let frameworkQueue = ["jobs", "job_batches", "failed_jobs"]
    /// Tables only a landlord (or single-tenant) database has.
    package static let landlord = ["tenants", "realtime_subscriptions"]
    /// Tables whose columns hold secrets that decrypt only with the same `APP_KEY`.
    package static let encryptedColumns: [String: [String]] = ["oauth_providers": ["client_secret"]]
    /// Settings whose payload is encrypted with `APP_KEY`.
    package static let encryptedSettings = [
        ("storage", "s3_key"), ("storage", "s3_secret"), ("email", "mail_password"), ("ai", "ai_api_key"),
    ]

    /// The role of a table known by name alone, or nil when only the collections can tell.
    package static func role(of table: String) -> TableRole? {
        if table == "collections" { return .metadata }
        if table.hasPrefix("sqlite_") { return .sqliteInternal }
        if veloquent.contains(table) { return .system }
        if frameworkCache.contains(table) { return .frameworkCache }
        if frameworkQueue.contains(table) { return .frameworkQueue }
        if landlord.contains(table) { return .landlord }
        return nil
    }
}
