import Foundation

/// Compresses the frames of pack files on worker threads, each frame whole, and hands them back in the order
/// they were submitted, each with the SHA-256 of its compressed bytes. New frames do not depend on each other, so
/// `workers` threads compress `workers` frames at once while the caller reads and encodes the next rows; with 0
/// workers a frame is compressed on the caller's thread when it is submitted. At most `slots` frames are in
/// flight, so memory is bounded whatever the database's size. A frame submitted with delta bases is compressed
/// against them (read from the repository by the thread compressing it) when that makes it at most half the
/// size of a plain frame (`DeltaCompression`).
final class FrameCompressor: @unchecked Sendable {
    /// A compressed frame, in submission order.
    struct Compressed {
        let ticket: Int
        let bytes: [UInt8]
        let rawBytes: Int
        let sha256: [UInt8]
        /// The frame's delta bases; empty for a plain frame.
        let bases: [SegmentList.Frame]
    }

    private let slots: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [(ticket: Int, input: ByteBuffer, bases: [SegmentList.Frame])] = []
    private var done: [Int: (Result<Compressed, Error>, ByteBuffer)] = [:]
    private var stopping = false
    private var running = 0
    // The caller's.
    private(set) var nextTicket = 0
    private var nextOut = 0
    private var spare: [ByteBuffer] = []
    private let inline: DeltaCompression?

    /// Frames in flight beyond one per worker, by default: room for a frame that compresses slowly while the
    /// others go on (with one spare and three hand-off batches, a profile of a first backup showed both cores
    /// idle a fifth of the time; three spares and five batches made it 2.5% to 3.5% faster, for 1 to 3 MiB more).
    static let spareSlots = 3

    /// - Parameters:
    ///   - workers: compression threads (0: compress on the caller's thread).
    ///   - slots: frames submitted but not yet taken back, at most (at least `workers` + 1; by default
    ///     `workers` + `spareSlots`).
    ///   - storage: the repository's storage, where delta bases are read (nil: every frame is plain).
    init(level: Int32, workers: Int, slots: Int? = nil, storage: (any RepositoryStorage)? = nil) throws {
        self.slots = max(slots ?? workers + Self.spareSlots, workers + 1, 1)
        if workers == 0 {
            inline = try DeltaCompression(level: level, storage: storage)
        } else {
            inline = nil
            for index in 0..<workers {
                let box: ContextBox
                do { box = ContextBox(try DeltaCompression(level: level, storage: storage)) } catch {
                    stop()
                    throw error
                }
                running += 1
                let thread = Thread { [self] in work(box.context) }
                thread.name = "velo-frame-\(index)"
                thread.stackSize = 1 << 20
                thread.start()
            }
        }
    }

    deinit { stop() }

    /// Frames submitted and not yet taken back.
    var inFlight: Int { nextTicket - nextOut }

    /// Whether another frame can be submitted without taking one back first.
    var hasFreeSlot: Bool { inFlight < slots }

    /// An empty buffer to gather the next frame in (one given back by a finished frame when there is one).
    func buffer() -> ByteBuffer {
        if let buffer = spare.popLast() { return buffer }
        return ByteBuffer(capacity: SegmentFormat.frameBytes + SegmentFormat.maxSegmentBytes)
    }

    /// Hands `input` over to be compressed; returns its ticket (0, 1, 2, … in submission order). The caller
    /// must not touch `input` again. Needs a free slot (`hasFreeSlot`).
    /// `bases` are the frame's delta bases (`DeltaBases`), if any.
    func submit(_ input: ByteBuffer, bases: [SegmentList.Frame] = []) -> Int {
        precondition(hasFreeSlot, "FrameCompressor: no free slot")
        let ticket = nextTicket
        nextTicket += 1
        if let inline {
            let result = Result { try inline.compress(input, ticket: ticket, bases: bases) }
            condition.lock()
            done[ticket] = (result, input)
            condition.unlock()
            return ticket
        }
        condition.lock()
        queue.append((ticket, input, bases))
        condition.signal()
        condition.unlock()
        return ticket
    }

    /// The next frame in submission order: nil when none is in flight, or when it is not ready and `wait` is
    /// false.
    /// - Throws: what compressing it threw.
    func next(wait: Bool) throws -> Compressed? {
        guard nextOut < nextTicket else { return nil }
        condition.lock()
        while done[nextOut] == nil {
            guard wait else { condition.unlock(); return nil }
            condition.wait()
        }
        let (result, input) = done.removeValue(forKey: nextOut)!
        condition.unlock()
        nextOut += 1
        input.removeAll()
        spare.append(input)
        return try result.get()
    }

    /// Stops the workers (frames still queued are dropped) and waits for them to end.
    func stop() {
        condition.lock()
        stopping = true
        queue.removeAll()
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func work(_ context: DeltaCompression) {
        defer {
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if stopping { condition.unlock(); return }
            let (ticket, input, bases) = queue.removeFirst()
            condition.unlock()
            let result = Result { try context.compress(input, ticket: ticket, bases: bases) }
            condition.lock()
            done[ticket] = (result, input)
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Carries a context to the thread that owns it from then on.
    private final class ContextBox: @unchecked Sendable {
        let context: DeltaCompression
        init(_ context: DeltaCompression) { self.context = context }
    }
}
