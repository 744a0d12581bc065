import Foundation

/// The repository's catalog: one small JSON file per snapshot (`catalog/<id>.json`) plus its header and
/// manifest (`catalog/<id>.manifest.json`). Listing, selection and retention read only this, never archives.
public struct Catalog {
    public let directory: String

    init(directory: String) { self.directory = directory }

    func entryPath(_ id: String) -> String { (directory as NSString).appendingPathComponent("\(id).json") }
    func detailPath(_ id: String) -> String { (directory as NSString).appendingPathComponent("\(id).manifest.json") }

    /// Every catalogued snapshot, oldest first (ties by creation order, then id).
    public func entries() throws -> [CatalogEntry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var result: [CatalogEntry] = []
        for name in names where name.hasSuffix(".json") && !name.hasSuffix(".manifest.json") && !name.hasPrefix(".") {
            let path = (directory as NSString).appendingPathComponent(name)
            let json: JSONValue
            do { json = try JSONParser.parse(try FileSystem.read(path)) } catch {
                throw VeloError("\(path): catalog entry is not valid JSON (\(error))")
            }
            result.append(try CatalogEntry(json: json, file: path))
        }
        return result.sorted { ($0.time, $0.sequence, $0.id) < ($1.time, $1.sequence, $1.id) }
    }

    /// The sequence number for the next snapshot (call under the repository lock).
    func nextSequence() throws -> Int {
        (try entries().map(\.sequence).max() ?? 0) + 1
    }

    /// Writes (or replaces) an entry with its header and manifest. The detail file is written first, so an
    /// entry that exists always has its detail.
    func write(_ entry: CatalogEntry, header: SnapshotHeader, manifest: Manifest) throws {
        let detail = JSONValue.object([("header", header.json), ("manifest", manifest.json)])
        try FileSystem.writeAtomically(Array(JSONWriter.string(detail).utf8), to: detailPath(entry.id))
        try update(entry)
    }

    /// Replaces an existing entry (for example with a new verification result).
    func update(_ entry: CatalogEntry) throws {
        try FileSystem.writeAtomically(Array(JSONWriter.string(entry.json, pretty: true).utf8), to: entryPath(entry.id))
    }

    /// The header and manifest recorded for a snapshot.
    public func detail(_ id: String) throws -> (header: SnapshotHeader, manifest: Manifest) {
        let path = detailPath(id)
        let json = try JSONParser.parse(try FileSystem.read(path))
        guard let header = json["header"], let manifest = json["manifest"] else {
            throw VeloError("\(path): catalog detail is malformed")
        }
        return (try SnapshotHeader(json: header), try Manifest(json: manifest))
    }

    /// Removes an entry: the entry file first, so a half-done removal never lists a snapshot without detail.
    func remove(_ id: String) {
        unlink(entryPath(id))
        unlink(detailPath(id))
        FileSystem.syncDirectory(directory)
    }
}
