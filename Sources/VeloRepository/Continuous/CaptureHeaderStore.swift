import Foundation
import VeloFormat
import VeloStorage

/// This machine's copies of the capture headers of an object storage's repository, so that `velo status`, a
/// restore or a new replicator learns a week of history (about 10,000 packs) from one listing instead of a GET
/// per object (restic keeps its index in a local cache for the same reason).
///
/// Kept only where reading a header is a paid request (`storage.requests`): a local repository's headers are
/// read from its own disk. Lives in the storage's cache folder (`<cache>/capture-headers/<object name>`), one
/// file per object: a zstd frame (whose content checksum catches a copy damaged on this machine) of the header's
/// JSON with the object's size and, for a pack, where its bodies start. An encrypted repository's copies are
/// sealed with its keys, as its objects are. A copy is used only for an object of the same name and size (names
/// are never reused: a written time and a random stream id), and anything unreadable is read from the storage
/// again: deleting the folder at any time costs only requests. Writes are atomic renames; failing to write is
/// ignored.
package struct CaptureHeaderStore {
    let folder: String
    private let keys: RepositoryKeys?

    /// The store of `storage`'s headers, nil where they are not kept (no cache folder, or reads cost nothing).
    package init?(_ storage: any RepositoryStorage) {
        guard storage.requests != nil, let cache = storage.cacheDirectory else { return nil }
        folder = (cache as NSString).appendingPathComponent("capture-headers")
        keys = storage.keys
    }

    /// A header as kept.
    package enum Header {
        case batch(CaptureBatch)
        case pack(CapturePack, bodies: Int64)
    }

    private struct Entry: Codable {
        var size: Int64?
        var bodies: Int64?
        var batch: CaptureBatch?
        var pack: CapturePack?
    }

    private func path(_ name: StoredName) -> String { (folder as NSString).appendingPathComponent(name.name) }
    private func sealedPath(_ name: StoredName) -> String { "cache/capture-headers/\(name.name)" }

    /// The kept header of `name`, nil when none is kept, it was kept for an object of another size than `size`
    /// (when known), or the copy cannot be read.
    package func read(_ name: StoredName, size: Int64?) -> Header? {
        guard var bytes = FileManager.default.contents(atPath: path(name)).map({ [UInt8]($0) }) else { return nil }
        do {
            if let keys { bytes = try SealedObject.open(bytes, keys: keys, relativePath: sealedPath(name), describe: path(name)) }
            let json = try ZstdFrame.decompress(bytes, limit: 4 * CaptureObjects.maxHeaderBytes)
            let entry = try JSONDecoder().decode(Entry.self, from: Data(json))
            if let size, let kept = entry.size, kept != size { return nil }
            if let batch = entry.batch, batch.storedName == name { return .batch(batch) }
            if let pack = entry.pack, let bodies = entry.bodies, pack.storedName == name { return .pack(pack, bodies: bodies) }
        } catch {}
        return nil
    }

    /// Keeps `header` for the object `name` of `size` bytes.
    package func write(_ name: StoredName, _ header: Header, size: Int64?) {
        var entry = Entry(size: size)
        switch header {
        case .batch(let batch): entry.batch = batch
        case .pack(let pack, let bodies): entry.pack = pack; entry.bodies = bodies
        }
        guard let json = try? JSONEncoder().encode(entry), var bytes = try? ZstdFrame.compress([UInt8](json), level: 3) else {
            return
        }
        if let keys {
            guard let sealed = try? SealedObject.seal(bytes, keys: keys, relativePath: sealedPath(name)) else { return }
            bytes = sealed
        }
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let target = path(name)
        let temporary = (folder as NSString).appendingPathComponent(".\(name.name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            return
        }
        if rename(temporary, target) != 0 { unlink(temporary) }
    }

    /// Removes the copies of objects no longer stored (merged batches, pruned chains), given every capture
    /// object a listing found. A copy written meanwhile for a newer object is only read again later.
    package func removeAll(except present: Set<StoredName>) {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let names = Set(present.map(\.name))
        for file in files {
            let path = (folder as NSString).appendingPathComponent(file)
            if file.hasPrefix(".") {
                // A copy being written, or left by a process that died writing it (gone after a minute).
                var info = stat()
                if stat(path, &info) == 0, time(nil) - info.st_mtim.tv_sec > 60 { unlink(path) }
            } else if !names.contains(file) {
                unlink(path)
            }
        }
    }
}
