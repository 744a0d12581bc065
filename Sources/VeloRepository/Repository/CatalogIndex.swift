import Foundation
import VeloFormat
import VeloStorage

/// A cache of the catalog grouped by source, so that `velo status`, `velo run` and the next snapshot's sequence
/// number cost milliseconds over hundreds of thousands of snapshots instead of reading every `catalog/<id>.json`.
///
/// Layout (all under the storage's cache folder, `cache/` of a local repository, which may be deleted at any
/// time; velo rebuilds it from the catalog):
/// - `cache/catalog.json`: the catalog folder's modification time the cache describes, the highest sequence
///   number and the damaged entries;
/// - `cache/catalog/<key>.ndjson`: one file per source: a summary line, then one line per snapshot.
///
/// The catalog stays the truth. The cache is trusted only while the storage's change stamp of the catalog (a
/// local folder's modification time) is the one it records; a storage without stamps keeps no cache. velo's
/// writers (which hold the repository lock) update the cache after each change they make when it was current before it; anything else
/// (an older velo, a crash between the two steps, a hand edit) leaves it stale and the next reader rebuilds it.
/// Writes to the cache are serialized by `cache/lock` (flock), which is never held for longer than a rewrite.
package struct CatalogIndex {
    let catalog: Catalog
    /// The cache folder; nil when the storage has none (nothing is cached). A storage without change stamps
    /// never has a current cache either.
    private let cache: String?

    package init(catalog: Catalog) {
        self.catalog = catalog
        cache = catalog.storage.cacheDirectory
    }

    var folder: String { ((cache ?? "/nonexistent") as NSString).appendingPathComponent("catalog") }
    var statePath: String { ((cache ?? "/nonexistent") as NSString).appendingPathComponent("catalog.json") }
    /// The catalog's change stamp now.
    private func stamp() -> String? { cache == nil ? nil : catalog.storage.changeStamp(.catalog) }

    /// One snapshot as the cache keeps it.
    package struct Snapshot: Equatable, Sendable {
        package var id: String
        package var time: Int64
        package var sequence: Int
        package var bytes: Int64
        package var tags: [String]
        package var verification: CatalogEntry.Verification?

        init(_ entry: CatalogEntry) {
            id = entry.id; time = entry.time; sequence = entry.sequence; bytes = entry.addedBytes; tags = entry.tags
            verification = entry.verification.map { .init(time: $0.time, ok: $0.ok, problems: []) }
        }

        init?(json: JSONValue) {
            guard let a = json.arrayValue, a.count == 7, let id = a[0].stringValue, let time = a[1].intValue,
                let sequence = a[2].intValue, let bytes = a[3].intValue, let tags = a[4].arrayValue
            else { return nil }
            self.id = id; self.time = Int64(time); self.sequence = sequence; self.bytes = Int64(bytes)
            self.tags = tags.compactMap(\.stringValue)
            if let vt = a[5].intValue, let ok = a[6].boolValue { verification = .init(time: Int64(vt), ok: ok, problems: []) }
        }

        var json: JSONValue {
            .array([
                .string(id), .int(time), .int(sequence), .int(bytes), .array(tags.map { .string($0) }),
                verification.map { .int($0.time) } ?? .null, verification.map { .bool($0.ok) } ?? .null,
            ])
        }

        static func older(_ a: Snapshot, _ b: Snapshot) -> Bool { (a.time, a.sequence, a.id) < (b.time, b.sequence, b.id) }
    }

    /// The state file: which catalog folder the cache describes.
    struct State {
        var catalogStamp: String
        var maxSequence: Int
        var damaged: [Catalog.DamagedEntry]

        var json: JSONValue {
            .object([
                ("format", .string("velo-catalog-cache")), ("version", .int(2)), ("catalog_mtime", .string(catalogStamp)),
                ("max_sequence", .int(maxSequence)),
                (
                    "damaged",
                    .array(damaged.map { .object([("id", .string($0.id)), ("path", .string($0.path)), ("reason", .string($0.reason))]) })
                ),
            ])
        }

        init(catalogStamp: String, maxSequence: Int, damaged: [Catalog.DamagedEntry]) {
            self.catalogStamp = catalogStamp; self.maxSequence = maxSequence; self.damaged = damaged
        }

        init?(json: JSONValue) {
            guard json["format"]?.stringValue == "velo-catalog-cache", json["version"]?.intValue == 2,
                let stamp = json["catalog_mtime"]?.stringValue, let max = json["max_sequence"]?.intValue,
                let damaged = json["damaged"]?.arrayValue
            else { return nil }
            catalogStamp = stamp; maxSequence = max
            self.damaged = damaged.compactMap { d in
                guard let id = d["id"]?.stringValue, let path = d["path"]?.stringValue, let reason = d["reason"]?.stringValue else {
                    return nil
                }
                return Catalog.DamagedEntry(id: id, path: path, reason: reason)
            }
        }
    }

    // MARK: - Reading

    /// Every source's summary and the damaged catalog entries, from the cache when it is current, otherwise
    /// from a scan of the catalog (which then refreshes the cache, when the repository is writable).
    /// - Throws: when the catalog cannot be listed.
    package func summaries() throws -> (sources: [SourceSummary], damaged: [Catalog.DamagedEntry], fromCache: Bool) {
        let removing = try catalog.pendingRemovals()
        if let state = currentState(), removing.isEmpty, let sources = readSummaries() {
            return (sources, state.damaged, true)
        }
        let rebuilt = try rebuild()
        return (rebuilt.sources, rebuilt.damaged, false)
    }

    /// One source's snapshots, oldest first, when the cache is current (nil otherwise: read the catalog).
    package func snapshots(of source: String) -> [Snapshot]? {
        guard currentState() != nil, (try? catalog.pendingRemovals())?.isEmpty == true else { return nil }
        guard FileSystem.exists(shardPath(source)) else { return [] }
        return readShard(source: source)?.sorted(by: Snapshot.older)
    }

    /// The highest sequence number in the catalog, when the cache knows it (call under the repository lock).
    package func maxSequence() -> Int? { currentState()?.maxSequence }

    /// The state, if the cache describes the catalog as it is now.
    func currentState() -> State? {
        guard let stamp = stamp(),
            let bytes = try? FileSystem.read(statePath), let json = try? JSONParser.parse(bytes),
            let state = State(json: json), state.catalogStamp == stamp
        else { return nil }
        return state
    }

    private func readSummaries() -> [SourceSummary]? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var result: [SourceSummary] = []
        for name in names where name.hasSuffix(".ndjson") && !name.hasPrefix(".") {
            guard let line = Self.firstLine((folder as NSString).appendingPathComponent(name)),
                let json = try? JSONParser.parse(line), let summary = SourceSummary(json: json)
            else { return nil }
            result.append(summary)
        }
        return result.sorted { $0.source < $1.source }
    }

    /// The summaries a full read of the catalog gives, without touching the cache (for checks and tests).
    func rebuildWithoutSaving() throws -> [SourceSummary] { try rebuild(save: false).sources }

    /// Scans the whole catalog and, when nothing changed during the scan, writes the cache.
    func rebuild(save: Bool = true) throws -> (sources: [SourceSummary], damaged: [Catalog.DamagedEntry]) {
        let before = stamp()
        var bySource: [String: (kind: String, snapshots: [Snapshot])] = [:]
        var maxSequence = 0
        // One entry at a time: only the small per-snapshot record is kept, whatever the catalog's size.
        let damaged = try catalog.forEachEntry { entry in
            bySource[entry.sourcePath, default: (entry.sourceKind, [])].snapshots.append(Snapshot(entry))
            maxSequence = max(maxSequence, entry.sequence)
        }
        let sources = bySource.keys.sorted().map { SourceSummary(source: $0, kind: bySource[$0]!.kind, snapshots: bySource[$0]!.snapshots) }
        // Persist only what is surely current: the catalog did not change while it was read, and its last change
        // is old enough that a later one cannot carry the same modification time (git's "racily clean" rule).
        if save, let before, before == stamp(), Self.isSettled(before),
            (try? catalog.pendingRemovals())?.isEmpty == true
        {
            try? withCacheLock {
                guard stamp() == before else { return }
                try? FileManager.default.removeItem(atPath: folder)
                try FileSystem.createDirectory(folder)
                for (path, group) in bySource {
                    try writeShard(source: path, kind: group.kind, snapshots: group.snapshots)
                }
                let state = State(catalogStamp: before, maxSequence: maxSequence, damaged: damaged)
                try writeState(state)
            }
        }
        return (sources, damaged)
    }

    // MARK: - Writers (under the repository lock)

    /// Runs a catalog change and keeps the cache current when it was current before: `change` returns the
    /// sources it touched (with the entry now stored, or nil for a removal) and the entry ids it touched.
    func updating(_ change: () throws -> [(source: String, kind: String, id: String, entry: CatalogEntry?)]) throws {
        guard FileSystem.exists(statePath) else { _ = try change(); return }
        var lockedState: State?
        var applied: [(source: String, kind: String, id: String, entry: CatalogEntry?)] = []
        // The cache lock is held across the change so that no reader persists a scan taken in between.
        do {
            try withCacheLock {
                lockedState = currentState()
                applied = try change()
                guard var state = lockedState, let after = stamp() else { return }
                do {
                    for source in Set(applied.map(\.source)) where !source.isEmpty {
                        let kind = applied.first { $0.source == source }!.kind
                        var snapshots = readShard(source: source) ?? []
                        let touched = Set(applied.filter { $0.source == source }.map(\.id))
                        snapshots.removeAll { touched.contains($0.id) }
                        snapshots += applied.filter { $0.source == source }.compactMap { $0.entry.map(Snapshot.init) }
                        try writeShard(source: source, kind: kind, snapshots: snapshots)
                    }
                    let ids = Set(applied.map(\.id))
                    state.damaged.removeAll { ids.contains($0.id) }
                    state.maxSequence = max(state.maxSequence, applied.compactMap { $0.entry?.sequence }.max() ?? 0)
                    state.catalogStamp = after
                    try writeState(state)
                } catch {
                    // A cache that could not be brought up to date is left stale: the next reader rebuilds it.
                    unlink(statePath)
                }
            }
        } catch is CacheLockUnavailable {
            _ = try change()
        }
    }

    // MARK: - Files

    private func shardPath(_ source: String) -> String {
        (folder as NSString).appendingPathComponent(String(SHA256Digest.of(Array(source.utf8)).prefix(16)) + ".ndjson")
    }

    private func readShard(source: String) -> [Snapshot]? {
        guard let bytes = try? FileSystem.read(shardPath(source)) else { return nil }
        var result: [Snapshot] = []
        for (n, line) in bytes.split(separator: UInt8(ascii: "\n")).enumerated() where n > 0 {
            guard let json = try? JSONParser.parse(Array(line)), let snapshot = Snapshot(json: json) else { return nil }
            result.append(snapshot)
        }
        return result
    }

    private func writeShard(source: String, kind: String, snapshots: [Snapshot]) throws {
        try FileSystem.createDirectory(folder)
        let path = shardPath(source)
        if snapshots.isEmpty { unlink(path); return }
        let sorted = snapshots.sorted(by: Snapshot.older)
        var text = JSONWriter.string(SourceSummary(source: source, kind: kind, snapshots: sorted).json) + "\n"
        for snapshot in sorted { text += JSONWriter.string(snapshot.json) + "\n" }
        try Self.replace(path, with: Array(text.utf8))
    }

    private func writeState(_ state: State) throws {
        try Self.replace(statePath, with: Array(JSONWriter.string(state.json).utf8))
    }

    /// Atomic replace without fsync: a cache torn by a crash fails to parse and is rebuilt.
    private static func replace(_ path: String, with bytes: [UInt8]) throws {
        let temporary = (path as NSString).deletingLastPathComponent + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw VeloError.io(temporary, "create", errno: errno)
        }
        guard Foundation.rename(temporary, path) == 0 else {
            let failure = VeloError.io(path, "rename", errno: errno)
            unlink(temporary)
            throw failure
        }
    }

    struct CacheLockUnavailable: Error {}

    /// Runs `body` holding `cache/lock`; throws `CacheLockUnavailable` when the cache folder cannot be written
    /// (a read-only repository: the cache is then simply not kept).
    private func withCacheLock(_ body: () throws -> Void) throws {
        guard let cache else { throw CacheLockUnavailable() }
        if !FileSystem.isDirectory(cache) {
            try? FileManager.default.createDirectory(
                atPath: cache, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        }
        let fd = open((cache as NSString).appendingPathComponent("lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CacheLockUnavailable() }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw CacheLockUnavailable() }
        }
        defer { flock(fd, LOCK_UN) }
        try body()
    }

    /// Whether a modification time is at least two seconds in the past.
    static func isSettled(_ stamp: String) -> Bool {
        guard let seconds = Int64(stamp.split(separator: ".").first ?? "") else { return false }
        return Int64(Date().timeIntervalSince1970) - seconds >= 2
    }

    private static func firstLine(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return nil }
            if let end = chunk[0..<n].firstIndex(of: UInt8(ascii: "\n")) {
                result.append(contentsOf: chunk[0..<end])
                return result
            }
            result.append(contentsOf: chunk[0..<n])
            if result.count > 1 << 20 { return nil }
        }
    }
}
