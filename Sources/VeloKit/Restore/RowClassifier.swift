import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// How plan and restore both classify an archive row — one rule, so that the plan's counts are the restore's.
/// First the row's `collection_id` is rewritten to the target's id of the same collection (collections are matched
/// by name); then the row is looked up by the target's primary key and compared, byte for byte, with the target row
/// as it will be once the restore has added the columns the target lacks (they read their default).
final class RowClassifier {
    /// One classified row. `line` is the row as the restore writes it (ids rewritten); it stays valid until the
    /// next call of `classify`.
    struct Row {
        var line: UnsafeRawBufferPointer
        /// The primary-key values, in the target's key order; empty when the table has no usable key.
        var key: [RecordValue]
        /// Byte ranges of the first values of `line`, at least up to the last key column.
        var ranges: [Range<Int>]
        var match: RowMatcher.Match
    }

    let table: SnapshotHeader.Table
    /// Positions of the target's primary-key columns among the archive's columns; empty without a usable key.
    let keyPositions: [Int]
    private let matcher: RowMatcher?
    private let collectionIDPosition: Int?
    private let idMap: [String: String]
    private let rewritten = ByteBuffer(capacity: 4096)
    private let archivePath: String

    /// - Parameters:
    ///   - targetTable: the table in the target, or nil when the restore creates it (every row is then new).
    ///   - idMap: archive collection ids to the target's ids of the same collections.
    ///   - substitutes: values of the archive columns the restore adds to the target table.
    init(
        target: Database, table: SnapshotHeader.Table, targetTable: SQLiteSchema.Table?, idMap: [String: String],
        substitutes: [String: RecordValue], archivePath: String
    ) throws {
        self.table = table
        self.archivePath = archivePath
        self.idMap = idMap
        collectionIDPosition = idMap.isEmpty ? nil : table.columns.firstIndex(of: "collection_id")
        let key = targetTable?.primaryKey ?? []
        let positions = key.compactMap { table.columns.firstIndex(of: $0) }
        if let targetTable, !key.isEmpty, positions.count == key.count {
            keyPositions = positions
            matcher = try RowMatcher(
                target: target, table: targetTable.name, columns: table.columns, primaryKey: key, substitutes: substitutes)
        } else {
            keyPositions = []
            matcher = nil
        }
    }

    /// The archive collection ids to rewrite: those of collections the target has under another id.
    static func collectionIDMap(archive: [CollectionMetadata], target: TenantDatabase) -> [String: String] {
        var map: [String: String] = [:]
        for c in archive {
            if let existing = target.collection(named: c.name), existing.id != c.id { map[c.id] = existing.id }
        }
        return map
    }

    func malformed() -> ArchiveDamage { ArchiveDamage(path: archivePath, entry: nil, reason: "table \(table.name): malformed row") }

    func classify(_ original: UnsafeRawBufferPointer) throws -> Row {
        var line = original
        if let position = collectionIDPosition {
            guard let ranges = RowValidator.valueRanges(in: original, limit: position + 1), ranges.count == position + 1 else {
                throw malformed()
            }
            let range = ranges[position]
            if case .text(let bytes) = try RowsPass.value(original, range, "collection_id"),
                let mapped = idMap[String(decoding: bytes, as: UTF8.self)]
            {
                rewritten.removeAll()
                rewritten.append(UnsafeRawBufferPointer(rebasing: original[..<range.lowerBound]))
                RecordEncoder.appendValue(.text(mapped), to: rewritten)
                rewritten.append(UnsafeRawBufferPointer(rebasing: original[range.upperBound...]))
                line = UnsafeRawBufferPointer(start: rewritten.base, count: rewritten.count)
            }
        }
        let keyEnd = (keyPositions.max() ?? -1) + 1
        guard let ranges = RowValidator.valueRanges(in: line, limit: max(keyEnd, 1)), ranges.count >= keyEnd else { throw malformed() }
        guard let matcher else { return Row(line: line, key: [], ranges: ranges, match: .absent) }
        let key = try keyPositions.map { try RowsPass.value(line, ranges[$0], table.columns[$0]) }
        return Row(line: line, key: key, ranges: ranges, match: try matcher.match(line, key: key))
    }
}
