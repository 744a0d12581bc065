import VeloFormat
import VeloStorage

/// What the start of an archive says about the database it holds: its schema and its collection definitions.
/// Read by `diff`, `plan` and `restore` without reading any records.
package struct SnapshotMetadata {
    package var schema: ArchiveSchema
    package var collections: [CollectionMetadata]
    /// Each collection's `collections` row as archived, by collection name.
    package var collectionRows: [String: [RecordValue]]

    /// Reads the schema entry and the `collections` rows, then stops.
    package init(reading reader: SnapshotReader) throws {
        var schemaRows: [[RecordValue]] = []
        var collections: [CollectionMetadata] = []
        var rows: [String: [RecordValue]] = [:]
        try reader.scan(tables: ["collections"], stopAfterTables: true, schema: { schemaRows.append(try RecordDecoder.decode($0)) }) {
            table, line in
            let values = try RecordDecoder.decode(line)
            let c = try CollectionMetadata(
                columns: zip(table.columns, values).map { (name: $0, value: $1.sqliteValue) },
                path: "\(reader.path): metadata")
            collections.append(c)
            rows[c.name] = values
            return true
        }
        schema = try ArchiveSchema(rows: schemaRows)
        self.collections = collections
        collectionRows = rows
    }
}
