import Foundation

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Rewrites real archives the way an attacker or a broken disk would, for end-to-end tests: entries changed,
/// added or removed, data appended, and the catalog made to agree so only the inner checks can see it.
enum ArchiveSurgery {
    struct Entry {
        var path: String
        var bytes: [UInt8]
    }

    static func entries(of path: String) throws -> [Entry] {
        let reader = try ArchiveReader(path: path)
        var result: [Entry] = []
        while let header = try reader.nextEntry() { result.append(Entry(path: header.path, bytes: try reader.readAll(limit: 1 << 30))) }
        return result
    }

    /// Writes `entries` as a tar.zst archive at `path` (replacing it).
    static func write(_ entries: [Entry], to path: String) throws {
        unlink(path)
        let writer = try ArchiveWriter(path: path, level: 3, workers: 0)
        for entry in entries { _ = try writer.addEntry(path: entry.path, bytes: entry.bytes, modificationTime: 1_790_000_000) }
        _ = try writer.finish()
    }

    /// Appends a valid zstd frame holding `bytes` after the archive's own frames.
    static func appendFrame(_ bytes: [UInt8], to path: String) throws {
        var out: [UInt8] = []
        let compressor = try ZstdCompressor(level: 3, workers: 0) { out.append(contentsOf: $0) }
        try bytes.withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(out))
        try handle.close()
    }

    /// The manifest JSON of `entries` with `edit` applied to it (Foundation's tree, for easy edits).
    static func editManifest(_ entries: inout [Entry], _ edit: (inout [String: Any]) -> Void) throws {
        let index = entries.firstIndex { $0.path == "manifest.json" }!
        var json = try JSONSerialization.jsonObject(with: Data(entries[index].bytes)) as! [String: Any]
        edit(&json)
        entries[index].bytes = Array(try JSONSerialization.data(withJSONObject: json))
    }

    /// Edits the object of the manifest's `list` (`entries` or `tables`) whose `key` is `value`.
    static func editManifest(
        _ entries: inout [Entry], _ list: String, where key: String, is value: String,
        _ edit: (inout [String: Any]) -> Void
    ) throws {
        try editManifest(&entries) { json in
            var objects = json[list] as! [[String: Any]]
            let i = objects.firstIndex { $0[key] as? String == value }!
            edit(&objects[i])
            json[list] = objects
        }
    }

    /// Replaces the data of entry `path` and makes the manifest agree with it (size and SHA-256).
    static func replace(_ entries: inout [Entry], _ path: String, with bytes: [UInt8]) throws {
        entries[entries.firstIndex { $0.path == path }!].bytes = bytes
        try editManifest(&entries, "entries", where: "path", is: path) {
            $0["bytes"] = bytes.count
            $0["sha256"] = SHA256Digest.of(bytes)
        }
    }

    /// Makes the catalog's record of snapshot `id` agree with the archive file as it now is: its size and
    /// SHA-256, and (with `manifest`) the manifest inside it.
    static func recatalog(repo: String, id: String, archive: String, manifest: Bool) throws {
        let entryPath = "\(repo)/catalog/\(id).json"
        var entry = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: entryPath))) as! [String: Any]
        let data = try Data(contentsOf: URL(fileURLWithPath: archive))
        entry["archive_bytes"] = data.count
        entry["archive_sha256"] = SHA256Digest.of(Array(data))
        try JSONSerialization.data(withJSONObject: entry).write(to: URL(fileURLWithPath: entryPath))
        guard manifest else { return }
        let detailPath = "\(repo)/catalog/\(id).manifest.json"
        var detail = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: detailPath))) as! [String: Any]
        let inside = try entries(of: archive).first { $0.path == "manifest.json" }!
        detail["manifest"] = try JSONSerialization.jsonObject(with: Data(inside.bytes))
        try JSONSerialization.data(withJSONObject: detail).write(to: URL(fileURLWithPath: detailPath))
    }
}

extension Repository {
    /// The file at `relative` in a local repository's folder (tests damage repositories on purpose).
    func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }
}
