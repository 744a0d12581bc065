import Foundation

/// The one bounded hand-off between threads on velo's data path: inputs submitted in order are transformed by
/// `workers` threads (or on the caller's thread with none) and taken back in the same order. At most `capacity`
/// inputs are in flight (submitted and not yet taken back), so whatever a stage holds is bounded, whatever the
/// database's size. Every pipeline of the write and read paths is one configuration of it:
///
/// - the compression of a full archive's blocks and the hand-off of segments to their deduplicator: one worker
///   that consumes blocks in order, whose outputs are the emptied blocks for the producer to fill again;
/// - the compression of pack frames: several workers, each with a compression context of its own;
/// - the decompression of an archive and the read-ahead of pack frames: one worker that fills blocks (reads
///   frames) ahead of the reader.
///
/// A transform's error is handed back in order, with the output it failed to make; later inputs are still
/// transformed unless the caller stops the stage. The caller owns the stage: `submit`, `next` and `stop` are
/// called from one thread at a time.
///
/// Every member is inlinable: the stage is generic and used from the layers above (VeloRepository's frame
/// compression and read-ahead, VeloKit's segment hand-off), and only a copy specialized in the using module
/// avoids a generic-metadata lookup per input (a first incremental backup was 1.4x slower without it).
package final class PipelineStage<Input, Output>: @unchecked Sendable {
    package typealias Transform = (Input) throws -> Output

    @usableFromInline let capacity: Int
    @usableFromInline internal let condition = NSCondition()
    // Guarded by `condition`.
    @usableFromInline internal var queue: [(ticket: Int, input: Input)] = []
    @usableFromInline internal var done: [Int: Result<Output, Error>] = [:]
    @usableFromInline internal var discarded = Set<Int>()
    @usableFromInline internal var stopping = false
    @usableFromInline internal var running = 0
    // The caller's.
    @usableFromInline internal var nextTicket = 0
    @usableFromInline internal var nextOut = 0
    @usableFromInline internal let inline: Transform?

    /// - Parameters:
    ///   - workers: threads transforming inputs (0: each input is transformed on the caller's thread when it is
    ///     submitted).
    ///   - capacity: inputs in flight at most (at least 1, and at least `workers`).
    ///   - name: the worker threads' name.
    ///   - makeTransform: called once per worker (once with none), on the caller's thread, for the transform that
    ///     worker alone uses from then on (its own compression context, its own piece store).
    @inlinable package init(workers: Int, capacity: Int, name: String, makeTransform: (Int) throws -> Transform) rethrows {
        self.capacity = max(capacity, workers, 1)
        guard workers > 0 else {
            inline = try makeTransform(0)
            return
        }
        inline = nil
        for index in 0..<workers {
            let transform: Transform
            do { transform = try makeTransform(index) } catch {
                stop()
                throw error
            }
            let box = TransformBox(transform)
            running += 1
            let thread = Thread { [self] in work(box.transform) }
            thread.name = workers == 1 ? name : "\(name)-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit { stop() }

    /// Inputs submitted and not yet taken back (discarded ones included until they are passed over).
    @inlinable package var inFlight: Int { nextTicket - nextOut }

    /// Whether another input can be submitted before one is taken back.
    @inlinable package var hasRoom: Bool { inFlight < capacity }

    /// The ticket the next input will get (0, 1, 2, … in submission order).
    @inlinable package var upcomingTicket: Int { nextTicket }

    /// Hands `input` over; returns its ticket. Needs room (`hasRoom`).
    @discardableResult
    @inlinable package func submit(_ input: Input) -> Int {
        precondition(hasRoom, "PipelineStage: submitted past its capacity")
        let ticket = nextTicket
        nextTicket += 1
        if let inline {
            let result = Result { try inline(input) }
            condition.lock()
            done[ticket] = result
            condition.unlock()
            return ticket
        }
        condition.lock()
        queue.append((ticket, input))
        condition.signal()
        condition.unlock()
        return ticket
    }

    /// The output of the oldest input in flight: nil when none is in flight, or (without `wait`) when it is not
    /// ready yet.
    /// - Throws: what transforming it threw.
    @inlinable package func next(wait: Bool = true) throws -> Output? {
        condition.lock()
        defer { condition.unlock() }
        while nextOut < nextTicket {
            if discarded.remove(nextOut) != nil {
                nextOut += 1
                continue
            }
            if let result = done.removeValue(forKey: nextOut) {
                nextOut += 1
                return try result.get()
            }
            guard wait, !stopping else { return nil }
            condition.wait()
        }
        return nil
    }

    /// Drops the inputs no worker has started on (they are never transformed, and `next` passes over them);
    /// returns them, oldest first. Inputs being transformed still come out of `next`.
    @inlinable package func discardQueued() -> [Input] {
        condition.lock()
        defer { condition.unlock() }
        let dropped = queue
        queue.removeAll()
        for item in dropped { discarded.insert(item.ticket) }
        return dropped.map(\.input)
    }

    /// Stops the workers (inputs not started are dropped) and waits for them to end. Idempotent.
    @inlinable package func stop() {
        condition.lock()
        stopping = true
        queue.removeAll()
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    @inlinable internal func work(_ transform: Transform) {
        defer {
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            let (ticket, input) = queue.removeFirst()
            condition.unlock()
            let result = Result { try transform(input) }
            condition.lock()
            done[ticket] = result
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Carries a transform to the thread that owns it from then on.
    @usableFromInline final class TransformBox: @unchecked Sendable {
        @usableFromInline let transform: Transform
        @inlinable init(_ transform: @escaping Transform) { self.transform = transform }
    }
}
