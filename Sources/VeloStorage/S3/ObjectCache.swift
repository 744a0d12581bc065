import Foundation
import VeloFormat

/// Small objects of a bucket kept on this machine, so that reading the same catalog again costs one listing
/// instead of one GET per snapshot (Litestream's users were billed for every request). Two kinds are kept:
/// - segment lists, named by the SHA-256 of their bytes: immutable, so a cached copy is used when its bytes still
///   hash to its name (a damaged copy is ignored and fetched again);
/// - catalog entries and details, which `velo verify` rewrites: a cached copy is used only when the latest
///   listing of the catalog in this process gave the same ETag as the copy was stored under.
///
/// Lives in the storage's cache folder (`~/.cache/velo/<bucket>-<hash>/objects`); deleting it at any time only
/// costs requests. Writes are atomic renames; a failure to write the cache is ignored.
struct ObjectCache {
    let folder: String

    init(_ cacheDirectory: String) {
        folder = (cacheDirectory as NSString).appendingPathComponent("objects")
    }

    /// Whether objects of `kind` are cached.
    static func keeps(_ kind: StoredKind) -> Bool { kind == .list || kind == .catalog }

    private func path(_ name: StoredName) -> String {
        (folder as NSString).appendingPathComponent("\(name.kind.rawValue)/\(name.name)")
    }

    /// The cached bytes of `name`: a list whose bytes match its name, or a catalog object stored under `etag`.
    func read(_ name: StoredName, etag: String?) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path(name)) else { return nil }
        let bytes = [UInt8](data)
        switch name.kind {
        case .list:
            return SHA256Digest.of(bytes) == name.name ? bytes : nil
        default:
            // A header line with the ETag, then the object.
            guard let etag, let newline = bytes.firstIndex(of: UInt8(ascii: "\n")),
                String(decoding: bytes[..<newline], as: UTF8.self) == etag
            else { return nil }
            return Array(bytes[(newline + 1)...])
        }
    }

    /// Stores what a GET returned (catalog objects only with their ETag).
    func write(_ name: StoredName, etag: String?, _ bytes: [UInt8]) {
        var contents: [UInt8]
        switch name.kind {
        case .list: contents = bytes
        default:
            guard let etag, !etag.contains("\n") else { return }
            contents = Array((etag + "\n").utf8) + bytes
        }
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
}
