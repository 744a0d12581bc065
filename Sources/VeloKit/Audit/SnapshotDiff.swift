import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo diff`: what changed between two snapshots: the collection definitions, and per table how many rows
/// were added, removed and changed (matched by primary key), with example ids. Memory stays bounded whatever
/// the table sizes: row keys and hashes are spilled to temporary bucket files by key hash, and each bucket is
/// compared on its own.
package struct SnapshotDiff: Encodable, Sendable {
    package struct Side: Encodable, Sendable {
        package var id: String
        package var time: String
    }

    package struct TableDiff: Encodable, Sendable {
        package var table: String
        package var collection: String?
        /// `added` or `removed` when the table exists in one snapshot only.
        package var presence: String?
        package var added = 0
        package var removed = 0
        package var changed = 0
        package var unchanged = 0
        package var examples = Examples()
        /// Columns that exist in one snapshot only (rows are compared on the common columns).
        package var columnsAdded: [String] = []
        package var columnsRemoved: [String] = []
    }

    package struct Examples: Encodable, Sendable {
        package var added: [String] = []
        package var removed: [String] = []
        package var changed: [String] = []
    }

    package var a: Side
    package var b: Side
    package var collections: [CollectionChange]
    package var tables: [TableDiff]
    /// Uploaded files added, removed and changed (nil when neither snapshot holds any).
    package var files: FilesDiff? = nil

    /// How many example keys are kept per table and kind of change.
    static let exampleLimit = 5

    /// Everything a side contributes before its rows are read.
    struct Prepared {
        var header: SnapshotHeader
        var collections: [CollectionMetadata] = []
        var schema: ArchiveSchema
        var manifest: Manifest?
    }

    package static func compare(
        _ first: SelectedSnapshot, _ second: SelectedSnapshot, temporaryDirectory: String? = nil,
        progress: (any ProgressObserver)? = nil
    ) throws -> SnapshotDiff {
        let sides = try [first, second].map(prepare)
        let changes = CollectionChange.compare(sides[0].collections, sides[1].collections)
        // Tables and their key columns, from the union of both snapshots.
        let tablesA = Dictionary(sides[0].header.tables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let tablesB = Dictionary(sides[1].header.tables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var names: [String] = sides[0].header.tables.map(\.name)
        for t in sides[1].header.tables where tablesA[t.name] == nil { names.append(t.name) }
        let keysA = primaryKeys(sides[0].schema), keysB = primaryKeys(sides[1].schema)
        let owners = Dictionary(
            (sides[0].collections + sides[1].collections).map { ($0.tableName, $0.name) }, uniquingKeysWith: { a, _ in a })
        var diffs: [TableDiff] = []
        var plans: [String: TablePlan] = [:]
        for (index, name) in names.enumerated() {
            var diff = TableDiff(table: name, collection: owners[name])
            let a = tablesA[name], b = tablesB[name]
            if a == nil { diff.presence = "added" }
            if b == nil { diff.presence = "removed" }
            let columnsA = a?.columns ?? [], columnsB = b?.columns ?? []
            diff.columnsAdded = columnsB.filter { !columnsA.contains($0) }
            diff.columnsRemoved = columnsA.filter { !columnsB.contains($0) }
            let common = (b?.columns ?? columnsA).filter { (a == nil || columnsA.contains($0)) && (b == nil || columnsB.contains($0)) }
            var key = keysB[name] ?? keysA[name] ?? []
            if key.isEmpty || !key.allSatisfy(common.contains) { key = common.contains("id") ? ["id"] : common }
            plans[name] = TablePlan(index: index, key: key, common: common)
            diffs.append(diff)
        }
        // About 200,000 rows per bucket; a lone archive's rows are estimated from its size.
        let totalRows = [first, second].map { (side: SelectedSnapshot) -> Int in
            side.catalogEntry?.totalRows ?? Int(((try? side.archiveSize()) ?? 0) / 20)
        }
        .reduce(0, +)
        let bucketCount = max(1, min(512, totalRows / 200_000 + 1))
        let directory = (temporaryDirectory ?? NSTemporaryDirectory()) + "/velo-diff-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileSystem.createDirectory(directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spill = try BucketSpill(directory: directory, buckets: bucketCount)
        var manifests: [Manifest] = []
        for (side, snapshot) in [first, second].enumerated() {
            let reader = try SnapshotReader(snapshot, manifest: sides[side].manifest)
            var done = 0
            let manifest = try reader.scan { table, line in
                guard let plan = plans[table.name] else { return true }
                guard let ranges = RowValidator.valueRanges(in: line), ranges.count == table.columns.count else {
                    throw VeloError("\(snapshot.archiveLocation): table \(table.name): malformed row (run 'velo verify')")
                }
                try spill.add(side: side, table: plan.index, line: line, ranges: ranges, columns: table.columns, plan: plan)
                done += 1
                if done & 8191 == 0 { try Interruption.check(); progress?.update(done, detail: "snapshot \(side == 0 ? "A" : "B")") }
                return true
            }
            if let manifest { manifests.append(manifest) }
        }
        try spill.finishWriting()
        try spill.compare { tableIndex, kind, key in
            switch kind {
            case .added:
                diffs[tableIndex].added += 1
                if diffs[tableIndex].examples.added.count < exampleLimit { diffs[tableIndex].examples.added.append(key()) }
            case .removed:
                diffs[tableIndex].removed += 1
                if diffs[tableIndex].examples.removed.count < exampleLimit { diffs[tableIndex].examples.removed.append(key()) }
            case .changed:
                diffs[tableIndex].changed += 1
                if diffs[tableIndex].examples.changed.count < exampleLimit { diffs[tableIndex].examples.changed.append(key()) }
            case .unchanged:
                diffs[tableIndex].unchanged += 1
            }
        }
        progress?.finish()
        for i in diffs.indices {
            diffs[i].examples.added.sort(); diffs[i].examples.removed.sort(); diffs[i].examples.changed.sort()
        }
        return SnapshotDiff(
            a: Side(id: sides[0].header.id, time: Timestamp.iso8601(sides[0].header.time)),
            b: Side(id: sides[1].header.id, time: Timestamp.iso8601(sides[1].header.time)),
            collections: changes, tables: diffs, files: manifests.count == 2 ? FilesDiff(manifests[0], manifests[1]) : nil)
    }

    struct TablePlan {
        var index: Int
        var key: [String]
        var common: [String]
    }

    static func prepare(_ snapshot: SelectedSnapshot) throws -> Prepared {
        var manifest: Manifest?
        if case .catalogued(let entry, let repository) = snapshot { manifest = try repository.catalog.detail(entry.id).manifest }
        let reader = try SnapshotReader(snapshot, manifest: manifest)
        let metadata = try SnapshotMetadata(reading: reader)
        return Prepared(header: reader.header, collections: metadata.collections, schema: metadata.schema, manifest: manifest)
    }

    /// Primary-key columns per table, as SQLite reads them from the snapshot's own DDL.
    static func primaryKeys(_ schema: ArchiveSchema) -> [String: [String]] {
        Dictionary(schema.schema.tables.values.map { ($0.name, $0.primaryKey) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Spills (table, key, row hash) records into bucket files by key hash, then compares each bucket in memory.
final class BucketSpill {
    enum Kind { case added, removed, changed, unchanged }

    let directory: String
    let handles: [FileHandle]
    let buffers: [ByteBuffer]
    let paths: [String]

    init(directory: String, buckets: Int) throws {
        self.directory = directory
        paths = (0..<buckets).map { (directory as NSString).appendingPathComponent("bucket-\($0)") }
        var handles: [FileHandle] = []
        for path in paths {
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                throw VeloError("\(path): cannot create a temporary file")
            }
            handles.append(handle)
        }
        self.handles = handles
        buffers = (0..<buckets).map { _ in ByteBuffer(capacity: 32 * 1024) }
    }

    /// Records one row: its key (the raw JSON of its key columns) and a hash of its common columns.
    func add(
        side: Int, table: Int, line: UnsafeRawBufferPointer, ranges: [Range<Int>], columns: [String],
        plan: SnapshotDiff.TablePlan
    ) throws {
        let key = ByteBuffer(capacity: 64)
        for (i, column) in plan.key.enumerated() {
            guard let position = columns.firstIndex(of: column) else { continue }
            if i > 0 { key.append(0x1F) }
            key.append(UnsafeRawBufferPointer(rebasing: line[ranges[position]]))
        }
        var digest = SHA256Digest()
        for column in plan.common {
            guard let position = columns.firstIndex(of: column) else { continue }
            digest.update(UnsafeRawBufferPointer(rebasing: line[ranges[position]]))
            digest.update([0x1F])
        }
        let hash = Array(digest.hex().utf8.prefix(32))
        var h: UInt64 = 1469598103934665603
        for b in key.bytes { h = (h ^ UInt64(b)) &* 1099511628211 }
        h = (h ^ UInt64(table)) &* 1099511628211
        let bucket = Int(h % UInt64(buffers.count))
        let out = buffers[bucket]
        var header: (UInt8, UInt32, UInt32) = (UInt8(side), UInt32(table), UInt32(key.count))
        withUnsafeBytes(of: &header.0) { out.append($0) }
        withUnsafeBytes(of: &header.1) { out.append($0) }
        withUnsafeBytes(of: &header.2) { out.append($0) }
        out.append(key.bytes)
        out.append(hash)
        if out.count >= 32 * 1024 { try flush(bucket) }
    }

    func flush(_ bucket: Int) throws {
        let out = buffers[bucket]
        guard out.count > 0 else { return }
        try handles[bucket].write(contentsOf: Data(out.bytes))
        out.removeAll()
    }

    func finishWriting() throws {
        for bucket in buffers.indices {
            try flush(bucket)
            try handles[bucket].close()
        }
    }

    /// Reads each bucket and reports every key's fate.
    func compare(_ report: (Int, Kind, () -> String) -> Void) throws {
        struct Pair { var a: [UInt8]?; var b: [UInt8]? }
        for path in paths {
            let bytes = try FileSystem.read(path)
            var pairs: [String: Pair] = [:]
            var order: [String] = []
            var i = 0
            while i + 9 <= bytes.count {
                let side = bytes[i]
                let table = bytes[(i + 1)..<(i + 5)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                let length = Int(bytes[(i + 5)..<(i + 9)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                let key = String(table) + "\u{1}" + String(decoding: bytes[(i + 9)..<(i + 9 + length)], as: UTF8.self)
                let hash = Array(bytes[(i + 9 + length)..<(i + 9 + length + 32)])
                i += 9 + length + 32
                if pairs[key] == nil { order.append(key) }
                if side == 0 { pairs[key, default: Pair()].a = hash } else { pairs[key, default: Pair()].b = hash }
            }
            for key in order {
                let pair = pairs[key]!
                let split = key.firstIndex(of: "\u{1}")!
                let table = Int(key[..<split])!
                let display = { BucketSpill.display(String(key[key.index(after: split)...])) }
                switch (pair.a, pair.b) {
                case (nil, .some): report(table, .added, display)
                case (.some, nil): report(table, .removed, display)
                case (let x?, let y?): report(table, x == y ? .unchanged : .changed, display)
                default: break
                }
            }
        }
    }

    /// A key as people read it: a lone string without its quotes.
    static func display(_ raw: String) -> String {
        let parts = raw.split(separator: "\u{1F}", omittingEmptySubsequences: false).map { part -> String in
            if let value = try? JSONParser.parse(String(part)), case .string(let s) = value { return s }
            return String(part)
        }
        return parts.joined(separator: ",")
    }
}
