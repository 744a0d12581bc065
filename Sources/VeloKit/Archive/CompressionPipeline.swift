import Foundation

/// A two-stage pipeline for the write path: the caller's thread (SQLite, encoding, tar) hands full blocks to one
/// compression thread (zstd, then the file). Memory is a fixed pool of blocks, so it does not grow with the
/// database; the two cores each do one half of the work. A profile showed zstd's own multi-threading needs
/// several times the memory for the same speed.
final class CompressionPipeline: @unchecked Sendable {
    // Shared state is guarded by `condition`; `current` belongs to the producer, the compressor to the consumer.
    private let condition = NSCondition()
    private var free: [UnsafeMutableRawBufferPointer] = []
    private var queue: [(UnsafeMutableRawBufferPointer, Int)] = []
    private var ended = false
    private var finishedConsumer = false
    private var failure: Error?

    private var current: UnsafeMutableRawBufferPointer
    private var currentCount = 0
    private let blocks: [UnsafeMutableRawBufferPointer]
    private let compressor: ZstdCompressor
    private var thread: Thread?

    /// - Parameters:
    ///   - blockSize: bytes per block handed over.
    ///   - blockCount: blocks in the pool (in flight at most).
    ///   - compressor: used only on the pipeline's thread.
    init(compressor: ZstdCompressor, blockSize: Int = 2 << 20, blockCount: Int = 6) {
        self.compressor = compressor
        blocks = (0..<blockCount).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16) }
        current = blocks[0]
        free = Array(blocks.dropFirst())
        let thread = Thread { [unowned self] in self.consume() }
        thread.name = "velo-zstd"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// Copies `bytes` into blocks, handing each full block to the compression thread.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, current.count - currentCount)
            UnsafeMutableRawBufferPointer(rebasing: current[currentCount..<(currentCount + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            currentCount += n
            offset += n
            if currentCount == current.count { try handOver() }
        }
    }

    /// Hands over the last block, waits for the thread to compress everything and end the frame.
    func finish() throws {
        if currentCount > 0 { try handOver(waitForFree: false) }
        condition.lock()
        ended = true
        condition.broadcast()
        while !finishedConsumer { condition.wait() }
        let error = failure
        condition.unlock()
        if let error { throw error }
    }

    /// Stops the thread without finishing the frame (the file is being discarded).
    func cancel() {
        condition.lock()
        if failure == nil { failure = CancellationError() }
        ended = true
        condition.broadcast()
        while !finishedConsumer { condition.wait() }
        condition.unlock()
    }

    private func handOver(waitForFree: Bool = true) throws {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        queue.append((current, currentCount))
        condition.broadcast()
        currentCount = 0
        guard waitForFree else { return }
        while free.isEmpty && failure == nil { condition.wait() }
        if let failure { throw failure }
        current = free.removeLast()
    }

    private func consume() {
        while true {
            condition.lock()
            while queue.isEmpty && !ended { condition.wait() }
            if queue.isEmpty && ended {
                condition.unlock()
                break
            }
            let (block, count) = queue.removeFirst()
            let stop = failure != nil
            condition.unlock()
            if !stop {
                do {
                    try compressor.write(UnsafeRawBufferPointer(rebasing: block[0..<count]))
                } catch {
                    condition.lock(); failure = error; condition.unlock()
                }
            }
            condition.lock()
            free.append(block)
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        if failure == nil {
            do { try compressor.finish() } catch { failure = error }
        }
        finishedConsumer = true
        condition.broadcast()
        condition.unlock()
    }
}
