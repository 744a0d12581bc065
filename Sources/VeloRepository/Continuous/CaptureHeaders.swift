import Foundation
import VeloStorage

/// The headers of capture objects already read, by name. Batches and packs never change once stored, so a
/// process that reads the history again and again (the compactor, once a span) reads each header once; only
/// the listing is repeated. Made `for` a storage, it also keeps what it reads on this machine where reading costs
/// requests (`CaptureHeaderStore`), so the next process reads each header from there. Not shared between threads.
package final class CaptureHeaders {
    private var batches: [StoredName: CaptureBatch] = [:]
    private var packs: [StoredName: (pack: CapturePack, bodies: Int64)] = [:]
    private let kept: CaptureHeaderStore?

    /// Headers kept in this process only.
    package init() { kept = nil }

    /// Headers of `storage`'s objects, also kept on this machine when `storage` is an object storage.
    package init(for storage: any RepositoryStorage) { kept = CaptureHeaderStore(storage) }

    /// The batch's header, read once (`size`: the object's, as listed, when known).
    package func batch(_ name: StoredName, storage: any RepositoryStorage, size: Int64? = nil) throws -> CaptureBatch {
        if let known = batches[name] { return known }
        if case .batch(let batch) = kept?.read(name, size: size) {
            batches[name] = batch
            return batch
        }
        let batch = try CaptureObjectReader(name, storage: storage).batchHeader()
        batches[name] = batch
        kept?.write(name, .batch(batch), size: size)
        return batch
    }

    /// The pack's header and where its bodies start, read once (`size`: the object's, as listed, when known).
    package func pack(_ name: StoredName, storage: any RepositoryStorage, size: Int64? = nil) throws -> (pack: CapturePack, bodies: Int64) {
        if let known = packs[name] { return known }
        if case .pack(let pack, let bodies) = kept?.read(name, size: size) {
            packs[name] = (pack, bodies)
            return (pack, bodies)
        }
        let read = try CaptureObjects.packHeader(name, storage: storage)
        packs[name] = read
        kept?.write(name, .pack(read.pack, bodies: read.bodies), size: size)
        return read
    }

    /// Drops the headers of objects no longer stored (batches a pack holds, pruned chains), given every capture
    /// object a listing found.
    package func forget(except present: Set<StoredName>) {
        batches = batches.filter { present.contains($0.key) }
        packs = packs.filter { present.contains($0.key) }
        kept?.removeAll(except: present)
    }
}
