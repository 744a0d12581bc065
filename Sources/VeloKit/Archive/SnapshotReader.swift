import Foundation

/// Streams the rows of a snapshot archive, table by table, in archive order (metadata first, then system
/// tables, records, other tables). Used by `inspect`, `cat`, `diff` and restores; `velo verify` does the full
/// audit. When the manifest is known in advance (a catalogued snapshot), every entry read is checked against it.
public final class SnapshotReader {
    public let path: String
    public let header: SnapshotHeader
    private let reader: ArchiveReader
    private let expected: Manifest?
    private var finished = false

    /// Opens the archive and reads its header. `manifest` (from the catalog) enables per-entry checks.
    public init(path: String, manifest: Manifest? = nil) throws {
        self.path = path
        reader = try ArchiveReader(path: path)
        expected = manifest
        guard let first = try reader.nextEntry() else {
            throw VeloError("\(path): the archive is empty")
        }
        guard first.path == ArchiveFormat.headerPath, first.unsafeReason == nil else {
            throw VeloError("\(path): entry \(first.path): expected \(ArchiveFormat.headerPath) first; not a velo snapshot archive")
        }
        let bytes = try reader.readAll(limit: 256 << 20)
        do {
            header = try SnapshotHeader(json: try JSONParser.parse(bytes))
        } catch let error as FormatProblem {
            throw VeloError("\(path): \(error)")
        } catch {
            throw VeloError("\(path): entry \(ArchiveFormat.headerPath): \(error)")
        }
    }

    /// After a scan that reached the manifest: reads what is left and returns the archive file's size and SHA-256.
    public func finishReading() throws -> (bytes: Int64, sha256: String) {
        try reader.finishReading()
    }

    /// The table of the header that a part entry belongs to.
    func table(forPart path: String) -> SnapshotHeader.Table? {
        header.tables.first { path.hasPrefix($0.partPrefix) }
    }

    /// Reads the rest of the archive. For each row of a table in `tables` (all when nil), calls `onRow` with
    /// the table and the row's line (valid only during the call); `onRow` returns false to stop early.
    /// Returns the manifest when the end was reached. With `stopAfterTables`, reading stops (returning nil) at
    /// the first part of a table that comes after every table in `tables`.
    @discardableResult
    public func scan(tables: Set<String>? = nil, stopAfterTables: Bool = false,
                     schema onSchema: ((UnsafeRawBufferPointer) throws -> Void)? = nil,
                     onRow: (SnapshotHeader.Table, UnsafeRawBufferPointer) throws -> Bool) throws -> Manifest? {
        let order = Dictionary(header.tables.enumerated().map { ($0.element.name, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let lastWanted = tables.map { $0.compactMap { order[$0] }.max() ?? -1 }
        precondition(!finished, "a SnapshotReader scans once")
        finished = true
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var lines = LineSplitter()
        while let entry = try reader.nextEntry() {
            if let reason = entry.unsafeReason { throw VeloError("\(path): entry \(entry.path) \(reason)") }
            if entry.path == ArchiveFormat.manifestPath {
                let manifest: Manifest
                do { manifest = try Manifest(json: try JSONParser.parse(try reader.readAll(limit: 256 << 20))) } catch {
                    throw VeloError("\(path): entry \(entry.path): \(error)")
                }
                return manifest
            }
            let isSchema = entry.path == ArchiveFormat.schemaPath
            let table = isSchema ? nil : table(forPart: entry.path)
            let wanted = isSchema ? onSchema != nil : table.map { tables?.contains($0.name) ?? true } ?? false
            if stopAfterTables, let lastWanted, let table, let position = order[table.name], position > lastWanted { return nil }
            let expectedEntry = expected?.entry(entry.path)
            if !wanted && expectedEntry == nil { continue }  // libarchive skips the data
            var digest = SHA256Digest()
            var stop = false
            lines.reset()
            func line(_ bytes: UnsafeRawBufferPointer) throws {
                guard wanted, !stop else { return }
                if isSchema { try onSchema?(bytes) } else if let table, try !onRow(table, bytes) { stop = true }
            }
            while true {
                let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { raw in
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    if expectedEntry != nil { digest.update(chunk) }
                    try lines.feed(chunk, line)
                }
                if stop { return nil }
            }
            if let expectedEntry, expectedEntry.sha256 != digest.hex() {
                throw VeloError("\(path): entry \(entry.path): SHA-256 mismatch (the archive is damaged; run 'velo verify')")
            }
        }
        throw VeloError("\(path): entry \(ArchiveFormat.manifestPath) is missing (the archive is incomplete)")
    }
}
