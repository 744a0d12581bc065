import VeloFormat
import VeloRepository
import VeloStorage

/// Veloquent's schema-transfer payload (`SchemaTransferService`, version 1): the header velo reads before the
/// records, and the constants both sides of the transfer share.
package struct TransferPayload: Sendable {
    /// How the payload was wrapped in the file.
    package enum Wrapping: String, Sendable {
        /// The `data` object the admin UI downloads.
        case bare
        /// Veloquent's response envelope `{"message","data"}`.
        case envelope
        /// The import request body `{"payload","conflict"}`.
        case requestBody = "request-body"
    }

    package var wrapping: Wrapping = .bare
    /// `version`, when present (velo reads version 1 only).
    package var version: Int?
    /// `exported_at` (ISO 8601 with an offset).
    package var exportedAt: String?
    /// `metadata.collections`, in payload order.
    package var collections: [JSONValue] = []
    /// Whether the payload has a `records` key.
    package var hasRecords = false
    /// The request body's `conflict`, when it comes before `payload`.
    package var conflict: String?

    /// The payload version velo reads and writes.
    package static let version = 1

    /// `SchemaTransferService::allowedSystemTables()`: the allow-list minus the excluded tables.
    package static var allowedSystemTables: [String] {
        SystemTables.transferAllowList.filter { !SystemTables.transferExcluded.contains($0) }
    }

    /// The warning of a collection with relation fields, word for word.
    package static let relationWarning = "Collection has relation fields that may need to be reconfigured for this environment."

    /// The properties of an exported field, in the order PHP's `(array)` cast of the `Field` value object gives.
    package static let fieldProperties = [
        "name", "type", "order", "nullable", "unique", "default", "id", "min", "max", "multiple", "max_size_kb",
        "allowed_mime_types", "protected", "target_collection_id", "cascade_on_delete", "allow_decimals", "options",
        "pivot_fields",
    ]

    /// Tables whose `collection_id` points into `collections`, remapped when collection ids are.
    package static let collectionIDTables = ["oauth_providers", "oauth_accounts", "auth_tokens", "otp_tokens", "email_templates"]

    /// Veloquent's messages, word for word.
    static func notAllowed(_ table: String) -> String { "Table '\(table)' is not allowed for export/import." }
    static func doesNotExist(_ table: String) -> String { "Table '\(table)' does not exist." }
    static func notImportable(_ table: String) -> String { "Table '\(table)' is not importable." }

    /// Veloquent's table name rule (`^[a-zA-Z0-9_]+$`).
    static func isValidTableName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
    }
}
