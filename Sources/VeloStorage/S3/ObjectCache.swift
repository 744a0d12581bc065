import Foundation
import VeloFormat

/// Small objects of a bucket kept on this machine, so that reading the same catalog again costs one listing
/// instead of one GET per snapshot (Litestream's users were billed for every request). Two kinds are kept:
/// - segment lists: immutable (named by the SHA-256 of their uncompressed bytes), so a cached copy is used as long as
///   it is the copy that was stored: a header line holds the SHA-256 of the stored bytes, and a copy damaged on this
///   machine is ignored and fetched again (never reported as damage of the repository's piece);
/// - catalog entries and details, which `velo verify` rewrites: a cached copy is used only when the latest
///   listing of the catalog in this process gave the same ETag as the copy was stored under;
/// - archives of at most `archiveLimit` bytes (an incremental snapshot's), written once under unique names:
///   kept with the SHA-256 of their bytes, as lists are, so the next backup reads the previous snapshot's
///   `segments.json` without a request (`velo verify` never reads them from here).
///
/// Lives in the storage's cache folder (`~/.cache/velo/<bucket>-<hash>/objects`); deleting it at any time only
/// costs requests. Writes are atomic renames; a failure to write the cache is ignored.
struct ObjectCache {
    let folder: String

    init(_ cacheDirectory: String) {
        folder = (cacheDirectory as NSString).appendingPathComponent("objects")
    }

    /// Whether objects of `kind` are cached (archives: `keepsArchive`).
    static func keeps(_ kind: StoredKind) -> Bool { kind == .list || kind == .catalog }

    /// The largest archive kept.
    static let archiveLimit: Int64 = 1 << 20

    /// Whether the archive `name` of `size` bytes is kept.
    static func keepsArchive(_ name: StoredName, size: Int64) -> Bool { name.kind == .snapshot && size <= archiveLimit }

    private func path(_ name: StoredName) -> String {
        (folder as NSString).appendingPathComponent("\(name.kind.rawValue)/\(name.name)")
    }

    /// The cached bytes of `name`: a list still as it was stored, or a catalog object stored under `etag`.
    func read(_ name: StoredName, etag: String?) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path(name)) else { return nil }
        let bytes = [UInt8](data)
        // A header line (the list's checksum, a catalog object's ETag), then the object.
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let header = String(decoding: bytes[..<newline], as: UTF8.self)
        let body = Array(bytes[(newline + 1)...])
        switch name.kind {
        case .list, .snapshot: return header == Self.checksum(body) ? body : nil
        default: return etag != nil && header == etag ? body : nil
        }
    }

    private static func checksum(_ bytes: [UInt8]) -> String { "sha256:" + SHA256Digest.of(bytes) }

    /// Stores what a GET returned or a PUT sent (catalog objects only with their ETag).
    func write(_ name: StoredName, etag: String?, _ bytes: [UInt8]) {
        let header: String
        switch name.kind {
        case .list, .snapshot: header = Self.checksum(bytes)
        default:
            guard let etag, !etag.contains("\n") else { return }
            header = etag
        }
        let contents = Array((header + "\n").utf8) + bytes
        let target = path(name)
        let directory = (target as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = directory + "/.\(name.name).tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(contents), attributes: [.posixPermissions: 0o600]) else {
            return
        }
        if rename(temporary, target) != 0 { unlink(temporary) }
    }

    /// Drops the copy of an object removed from the bucket (a pruned snapshot's lists and catalog files).
    func remove(_ name: StoredName) {
        unlink(path(name))
    }
}
