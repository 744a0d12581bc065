/// The pivot table that stores one `relation_many` field's links (`PivotTableName::for`, `createPivotTable`).
package struct PivotTable: Equatable, Sendable {
    /// The physical table name.
    package var name: String
    /// The collection whose field owns the pivot (`source_id` points into it).
    package var sourceCollection: String
    /// The relation_many field.
    package var field: String
    /// The target collection's name, when the target exists.
    package var targetCollection: String?

    /// The pivot's name for two tables (or collection names) and a field: strip `prefix` from both, sort them,
    /// join as `<a>_<b>_<field>_pivot`; past 64 bytes use `pvt_` + md5 of that; then add the prefix.
    package static func name(_ a: String, _ b: String, field: String, prefix: String = CollectionMetadata.defaultPrefix) -> String {
        let cleanA = a.hasPrefix(prefix) ? String(a.dropFirst(prefix.count)) : a
        let cleanB = b.hasPrefix(prefix) ? String(b.dropFirst(prefix.count)) : b
        let parts = [cleanA, cleanB].sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let bare = parts.joined(separator: "_") + "_" + field + "_pivot"
        if bare.utf8.count > 64 {
            return prefix + "pvt_" + MD5Hex.of(bare)
        }
        return prefix + bare
    }

    /// The name of the unique (`source_id`, `target_id`) index of a pivot table: `idx_` + md5(`<pivot>_unq`).
    package static func uniqueIndexName(pivot: String) -> String {
        "idx_" + MD5Hex.of(pivot + "_unq")
    }

    /// The standard columns of every pivot table, before any `pivot_fields` columns.
    package static let standardColumns = ["id", "source_id", "target_id"]
}
