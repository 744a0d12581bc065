/// The DDL of Veloquent's tenant migrations (veloquent/core 2.x on SQLite), migration by migration, as they
/// leave a fresh tenant database. Rows the migrations insert (system collections, settings) are not here.
package enum SystemSchema {
    /// (migration, statements) in run order. The `migrations` table itself comes first, as Laravel creates it.
    package static let migrations: [(name: String, statements: [String])] = [
        (
            "",
            [
                #"create table "migrations" ("id" integer primary key autoincrement not null, "migration" varchar not null, "batch" integer not null)"#
            ]
        ),
        (
            "0001_01_01_000000_create_collections_table",
            [
                #"create table "collections" ("id" varchar not null, "type" varchar not null default 'base', "is_system" tinyint(1) not null default '0', "name" varchar not null, "table_name" varchar not null, "description" text, "fields" text, "api_rules" text, "indexes" text, "options" text, "schema_updated_at" datetime, "created_at" datetime, "updated_at" datetime, primary key ("id"))"#,
                #"create index "collections_type_name_index" on "collections" ("type", "name")"#,
                #"create unique index "collections_name_unique" on "collections" ("name")"#,
                #"create unique index "collections_table_name_unique" on "collections" ("table_name")"#,
            ]
        ),
        (
            "0001_01_01_000001_create_superusers_table",
            [
                #"create table "superusers" ("id" varchar not null, "name" varchar not null, "email" varchar not null, "password" varchar not null, "created_at" datetime, "updated_at" datetime, primary key ("id"))"#,
                #"create unique index "superusers_email_unique" on "superusers" ("email")"#,
            ]
        ),
        (
            "0001_01_01_000002_create_cache_table",
            [
                #"create table "cache" ("key" varchar not null, "value" text not null, "expiration" integer not null, primary key ("key"))"#,
                #"create index "cache_expiration_index" on "cache" ("expiration")"#,
                #"create table "cache_locks" ("key" varchar not null, "owner" varchar not null, "expiration" integer not null, primary key ("key"))"#,
                #"create index "cache_locks_expiration_index" on "cache_locks" ("expiration")"#,
            ]
        ),
        (
            "0001_01_01_000003_create_jobs_table",
            [
                #"create table "jobs" ("id" integer primary key autoincrement not null, "queue" varchar not null, "payload" text not null, "attempts" integer not null, "reserved_at" integer, "available_at" integer not null, "created_at" integer not null)"#,
                #"create index "jobs_queue_index" on "jobs" ("queue")"#,
                #"create table "job_batches" ("id" varchar not null, "name" varchar not null, "total_jobs" integer not null, "pending_jobs" integer not null, "failed_jobs" integer not null, "failed_job_ids" text not null, "options" text, "cancelled_at" integer, "created_at" integer not null, "finished_at" integer, primary key ("id"))"#,
                #"create table "failed_jobs" ("id" integer primary key autoincrement not null, "uuid" varchar not null, "connection" text not null, "queue" text not null, "payload" text not null, "exception" text not null, "failed_at" datetime not null default CURRENT_TIMESTAMP)"#,
                #"create unique index "failed_jobs_uuid_unique" on "failed_jobs" ("uuid")"#,
            ]
        ),
        (
            "0001_01_01_000004_create_schema_jobs_table",
            [
                #"create table "schema_jobs" ("id" integer primary key autoincrement not null, "collection_id" varchar not null, "operation" varchar not null, "table_name" varchar not null, "started_at" datetime not null, "created_at" datetime, "updated_at" datetime)"#,
                #"create index "schema_jobs_collection_id_index" on "schema_jobs" ("collection_id")"#,
            ]
        ),
        (
            "0001_01_01_000006_create_auth_tokens_table",
            [
                #"create table "auth_tokens" ("id" varchar not null, "collection_name" varchar not null, "collection_id" varchar not null, "record_id" varchar not null, "token_hash" varchar not null, "expires_at" datetime not null, "last_used_at" datetime, "created_at" datetime, "updated_at" datetime, primary key ("id"))"#,
                #"create index "auth_tokens_collection_id_record_id_index" on "auth_tokens" ("collection_id", "record_id")"#,
                #"create unique index "auth_tokens_token_hash_unique" on "auth_tokens" ("token_hash")"#,
            ]
        ),
        (
            "0001_01_01_000008_create_otp_tokens_table",
            [
                #"create table "otp_tokens" ("id" integer primary key autoincrement not null, "collection_id" varchar not null, "record_id" varchar not null, "token_hash" varchar not null, "action" varchar not null, "expires_at" datetime not null, "used_at" datetime, "created_at" datetime, "updated_at" datetime)"#,
                #"create index "otp_tokens_record_id_action_index" on "otp_tokens" ("record_id", "action")"#,
                #"create index "otp_tokens_collection_id_record_id_action_expires_at_index" on "otp_tokens" ("collection_id", "record_id", "action", "expires_at")"#,
                #"create index "otp_tokens_expires_at_used_at_index" on "otp_tokens" ("expires_at", "used_at")"#,
                #"create unique index "otp_tokens_token_hash_unique" on "otp_tokens" ("token_hash")"#,
            ]
        ),
        (
            "0001_01_01_000009_create_email_templates_table",
            [
                #"create table "email_templates" ("id" integer primary key autoincrement not null, "collection_id" varchar not null, "action" varchar not null, "content" text not null, "created_at" datetime, "updated_at" datetime)"#,
                #"create unique index "email_templates_collection_id_action_unique" on "email_templates" ("collection_id", "action")"#,
            ]
        ),
        (
            "0001_01_01_000010_create_oauth_providers_table",
            [
                #"create table "oauth_providers" ("id" integer primary key autoincrement not null, "collection_id" varchar not null, "provider" varchar not null, "enabled" tinyint(1) not null default '1', "client_id" varchar not null, "client_secret" text not null, "redirect_uri" varchar, "scopes" text, "created_at" datetime, "updated_at" datetime, foreign key("collection_id") references "collections"("id") on delete cascade)"#,
                #"create unique index "oauth_providers_collection_id_provider_unique" on "oauth_providers" ("collection_id", "provider")"#,
            ]
        ),
        (
            "0001_01_01_000011_create_oauth_accounts_table",
            [
                #"create table "oauth_accounts" ("id" varchar not null, "provider" varchar not null, "provider_user_id" varchar not null, "collection_id" varchar not null, "record_id" varchar not null, "email" varchar, "created_at" datetime, "updated_at" datetime, foreign key("collection_id") references "collections"("id") on delete cascade, primary key ("id"))"#,
                #"create unique index "oauth_accounts_provider_provider_user_id_collection_id_unique" on "oauth_accounts" ("provider", "provider_user_id", "collection_id")"#,
                #"create index "oauth_accounts_collection_id_record_id_index" on "oauth_accounts" ("collection_id", "record_id")"#,
            ]
        ),
        // The users collection goes through the collection pipeline (CollectionDDL), not fixed DDL.
        ("0001_01_01_000012_create_users_table", []),
        (
            "2022_12_14_083707_create_settings_table",
            [
                #"create table "settings" ("id" integer primary key autoincrement not null, "group" varchar not null, "name" varchar not null, "locked" tinyint(1) not null default '0', "payload" text not null, "created_at" datetime, "updated_at" datetime)"#,
                #"create unique index "settings_group_name_unique" on "settings" ("group", "name")"#,
            ]
        ),
        ("2026_04_28_133148_create_tenant_settings", []),
        ("2026_05_17_100000_remove_timezone_from_general_settings", []),
        ("2026_06_02_190000_create_ai_settings_and_agents_collection", []),
        (
            "2026_06_11_202435_add_fingerprint_and_revocation_to_auth_tokens_table",
            [
                #"alter table "auth_tokens" add column "ip_address" varchar"#,
                #"alter table "auth_tokens" add column "user_agent" text"#,
                #"alter table "auth_tokens" add column "fingerprint" varchar"#,
                #"alter table "auth_tokens" add column "revoked_at" datetime"#,
            ]
        ),
    ]
}
