import Foundation
import VeloFormat
import VeloStorage

/// The repository's catalog: one small JSON object per snapshot (`catalog/<id>.json`) plus its header and
/// manifest (`catalog/<id>.manifest.json`), in the repository's storage. Listing, selection and retention read
/// only this, never archives.
public struct Catalog {
    let storage: any RepositoryStorage

    init(storage: any RepositoryStorage) { self.storage = storage }

    /// Where a snapshot's entry is, for messages.
    package func entryLocation(_ id: String) -> String { storage.describe(.catalogEntry(id)) }

    /// A catalog entry that cannot be read (a truncated or edited file). It is reported, never fatal: the other
    /// snapshots stay usable and scheduled backups go on.
    public struct DamagedEntry: Sendable, CustomStringConvertible {
        public var id: String
        public var path: String
        public var reason: String
        public var description: String { "\(path): damaged catalog entry (\(reason))" }
    }

    /// The snapshots a prune is removing (a marker in `trash/`): no reader lists them, even before the next
    /// writer finishes the removal.
    func pendingRemovals() throws -> Set<String> {
        var ids = Set<String>()
        do { try storage.list(.trash) { name, _ in ids.insert(String(name.name.dropLast(5))) } } catch {
            throw VeloError("\(storage.location): the removals in progress (trash/) cannot be listed: \(error)", kind: .io)
        }
        return ids
    }

    /// The ids of the catalogued snapshots, readable or not, from the names alone.
    func ids() throws -> Set<String> {
        var ids = Set<String>()
        try storage.list(.catalog) { name, _ in
            if name.name.hasSuffix(".json") && !name.name.hasSuffix(".manifest.json") { ids.insert(String(name.name.dropLast(5))) }
        }
        return ids
    }

    /// Every catalogued snapshot, oldest first (ties by creation order, then id), and the entries that could not
    /// be read. Snapshots being removed are in neither.
    /// - Throws: when the catalog cannot be listed (a refused or failed listing is never an empty catalog).
    public func scan() throws -> (entries: [CatalogEntry], damaged: [DamagedEntry]) {
        var result: [CatalogEntry] = []
        let damaged = try forEachEntry { result.append($0) }
        result.sort { ($0.time, $0.sequence, $0.id) < ($1.time, $1.sequence, $1.id) }
        return (result, damaged)
    }

    /// Calls `body` with every catalogued snapshot, in no particular order, one at a time (so a caller that keeps
    /// only a summary of each needs no memory for the rest), and returns the entries that could not be read.
    /// Snapshots being removed are skipped.
    /// - Throws: when the catalog or the removals in progress cannot be listed.
    func forEachEntry(_ body: (CatalogEntry) -> Void) throws -> [DamagedEntry] {
        let removing = try pendingRemovals()
        var damaged: [DamagedEntry] = []
        let ids: Set<String>
        do { ids = try self.ids() } catch { throw VeloError("\(storage.location): the catalog cannot be listed: \(error)", kind: .io) }
        for id in ids.sorted() where !removing.contains(id) {
            let path = entryLocation(id)
            do {
                let json: JSONValue
                do { json = try JSONParser.parse(try storage.load(.catalogEntry(id))) } catch StorageError.missing {
                    continue  // removed since the listing
                } catch {
                    throw VeloError("not valid JSON: \(error)")
                }
                let entry = try CatalogEntry(json: json, file: path)
                // An entry moved or copied over another's name is not the snapshot its name says.
                guard entry.id == id else { throw VeloError("\(path): catalog entry is malformed (it is the entry of \(entry.id))") }
                body(entry)
            } catch {
                var reason = "\(error)"
                if reason.hasPrefix(path + ": ") { reason.removeFirst(path.count + 2) }
                damaged.append(DamagedEntry(id: id, path: path, reason: reason))
            }
        }
        return damaged.sorted { $0.id < $1.id }
    }

    /// One snapshot's entry, nil when it is not catalogued or cannot be read.
    package func entry(_ id: String) -> CatalogEntry? {
        guard let bytes = try? storage.load(.catalogEntry(id)), let json = try? JSONParser.parse(bytes) else { return nil }
        guard let entry = try? CatalogEntry(json: json, file: entryLocation(id)), entry.id == id else { return nil }
        return entry
    }

    /// The catalogued snapshots of one source, newest first, read lazily: from the catalog cache when it is
    /// current (a backup must not read a catalog of hundreds of thousands of entries to find its predecessor),
    /// else from a scan of the catalog.
    package func newestFirst(of sourcePath: String) throws -> AnySequence<CatalogEntry> {
        if let cached = index.snapshots(of: sourcePath) {
            return AnySequence(cached.reversed().lazy.compactMap { entry($0.id) }.filter { $0.sourcePath == sourcePath })
        }
        return AnySequence(try scan().entries.reversed().lazy.filter { $0.sourcePath == sourcePath })
    }

    /// Every readable catalogued snapshot, oldest first (see `scan`, which also names the damaged entries).
    public func entries() throws -> [CatalogEntry] {
        try scan().entries
    }

    /// The sequence number for the next snapshot (call under the repository lock).
    package func nextSequence() throws -> Int {
        if let known = index.maxSequence() { return known + 1 }
        return (try entries().map(\.sequence).max() ?? 0) + 1
    }

    /// The cache of this catalog, by source (in the storage's cache folder).
    package var index: CatalogIndex { CatalogIndex(catalog: self) }

    /// Writes (or replaces) an entry with its header and manifest. The detail file is written first, so an
    /// entry that exists always has its detail.
    package func write(_ entry: CatalogEntry, header: SnapshotHeader, manifest: Manifest) throws {
        let detail = JSONValue.object([("header", header.json), ("manifest", manifest.json)])
        try index.updating {
            try storage.save(.catalogDetail(entry.id), Array(JSONWriter.string(detail).utf8))
            try store(entry)
            return [(entry.sourcePath, entry.sourceKind, entry.id, entry)]
        }
    }

    /// Replaces an existing entry (for example with a new verification result).
    package func update(_ entry: CatalogEntry) throws {
        try index.updating {
            try store(entry)
            return [(entry.sourcePath, entry.sourceKind, entry.id, entry)]
        }
    }

    private func store(_ entry: CatalogEntry) throws {
        try storage.save(.catalogEntry(entry.id), Array(JSONWriter.string(entry.json, pretty: true).utf8))
    }

    /// The header and manifest recorded for a snapshot.
    /// - Throws: `.io` when the detail file cannot be read, `.damaged` when it is malformed.
    public func detail(_ id: String) throws -> (header: SnapshotHeader, manifest: Manifest) {
        let path = detailLocation(id)
        let bytes = try storage.load(.catalogDetail(id))
        do {
            let json = try JSONParser.parse(bytes)
            guard let header = json["header"], let manifest = json["manifest"] else { throw VeloError("no header or manifest") }
            return (try SnapshotHeader(json: header), try Manifest(json: manifest))
        } catch {
            throw VeloError("\(path): catalog detail is malformed (\(error))", kind: .damaged)
        }
    }

    /// Where a snapshot's detail (its header and manifest) is, for messages.
    package func detailLocation(_ id: String) -> String { storage.describe(.catalogDetail(id)) }

    /// Removes an entry: the entry file first, so a half-done removal never lists a snapshot without detail.
    package func remove(_ id: String) {
        // The entry is read first so the cache knows which source lost a snapshot.
        let removed = (try? storage.load(.catalogEntry(id))).flatMap { try? JSONParser.parse($0) }.flatMap {
            try? CatalogEntry(json: $0, file: entryLocation(id))
        }
        try? index.updating {
            try storage.remove(.catalogEntry(id))
            try storage.remove(.catalogDetail(id))
            return [(removed?.sourcePath ?? "", removed?.sourceKind ?? "", id, nil)]
        }
    }
}
