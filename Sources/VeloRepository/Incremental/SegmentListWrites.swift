import Foundation
import VeloFormat
import VeloStorage

/// Stores a backup's segment lists on a thread of their own while the next table is read: compressing,
/// writing and fsyncing a list and the folders it needs cost the reading thread milliseconds per table (most of
/// a small table's time). Lists are written one after the other, in the order given, at most `pending` of them
/// waiting (so the lists held in memory stay bounded). `finish` waits for every one and rethrows the first
/// failure, so a snapshot refers to no list that is not durable; after a failure elsewhere, `drain` waits for
/// the writes in flight, so nothing is written after the backup cleans up.
package final class SegmentListWrites: @unchecked Sendable {
    private let store: PieceStore
    private let level: Int32
    private let queue = DispatchQueue(label: "velo.segment-lists")
    private let slots: DispatchSemaphore
    private let lock = NSLock()
    private var failure: (any Error)?
    private var written: Int64 = 0

    package init(store: PieceStore, level: Int32, pending: Int = 4) {
        self.store = store
        self.level = level
        slots = DispatchSemaphore(value: max(pending, 1))
    }

    /// Queues the list `bytes`, named `sha256`, for writing; waits while `pending` lists are waiting.
    /// - Throws: the failure of an earlier write (nothing more is queued after one).
    package func submit(_ bytes: [UInt8], sha256: String) throws {
        try lock.withLock { if let failure { throw failure } }
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard lock.withLock({ failure == nil }) else { return }
            do {
                let n = try store.writeList(bytes, sha256: sha256, level: level)
                lock.withLock { written += n }
            } catch {
                lock.withLock { if failure == nil { failure = error } }
            }
        }
    }

    /// Waits for every list queued; returns the bytes written.
    /// - Throws: the first write's failure.
    package func finish() throws -> Int64 {
        drain()
        return try lock.withLock {
            if let failure { throw failure }
            return written
        }
    }

    /// Waits for the writes queued so far.
    package func drain() {
        queue.sync {}
    }
}
