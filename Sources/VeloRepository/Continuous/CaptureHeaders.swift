import Foundation
import VeloStorage

/// The headers of capture objects already read, by name. Batches and packs never change once stored, so a
/// process that reads the history again and again (the compactor, once a span) reads each header once; only
/// the listing is repeated. Not shared between threads.
package final class CaptureHeaders {
    private var batches: [StoredName: CaptureBatch] = [:]
    private var packs: [StoredName: (pack: CapturePack, bodies: Int64)] = [:]

    package init() {}

    /// The batch's header, read once.
    package func batch(_ name: StoredName, storage: any RepositoryStorage) throws -> CaptureBatch {
        if let known = batches[name] { return known }
        let batch = try CaptureObjectReader(name, storage: storage).batchHeader()
        batches[name] = batch
        return batch
    }

    /// The pack's header and where its bodies start, read once.
    package func pack(_ name: StoredName, storage: any RepositoryStorage) throws -> (pack: CapturePack, bodies: Int64) {
        if let known = packs[name] { return known }
        let read = try CaptureObjects.packHeader(name, storage: storage)
        packs[name] = read
        return read
    }

    /// Drops the headers of objects no longer stored (batches a pack holds, pruned chains).
    package func forget(except present: Set<StoredName>) {
        batches = batches.filter { present.contains($0.key) }
        packs = packs.filter { present.contains($0.key) }
    }
}
