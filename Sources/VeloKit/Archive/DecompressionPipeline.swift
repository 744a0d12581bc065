import Foundation

/// The read path's two stages: one thread reads the file, hashes it and decompresses it into a fixed pool of
/// blocks; the caller's thread takes the blocks (tar parsing, entry checksums, row checks). Memory is the pool,
/// whatever the archive's size.
final class DecompressionPipeline: @unchecked Sendable {
    // Shared state is guarded by `condition`.
    private let condition = NSCondition()
    private var free: [UnsafeMutableRawBufferPointer]
    private var ready: [(UnsafeMutableRawBufferPointer, Int)] = []
    private var ended = false
    private var failure: Error?
    private var stopping = false
    private let blocks: [UnsafeMutableRawBufferPointer]
    private var current: UnsafeMutableRawBufferPointer?
    private let decompressor: ZstdDecompressor
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    init(decompressor: ZstdDecompressor, blockSize: Int = 1 << 20, blockCount: Int = 4) {
        self.decompressor = decompressor
        blocks = (0..<blockCount).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16) }
        free = blocks
        let thread = Thread { [unowned self] in self.produce() }
        thread.name = "velo-unzstd"
        self.thread = thread
        thread.start()
    }

    deinit {
        stop()
        for block in blocks { block.deallocate() }
    }

    /// The next block of decompressed bytes (valid until the next call), or an empty buffer at the end.
    func next() throws -> UnsafeRawBufferPointer {
        condition.lock()
        defer { condition.unlock() }
        if let current { free.append(current); self.current = nil; condition.broadcast() }
        while ready.isEmpty && !ended && failure == nil { condition.wait() }
        if !ready.isEmpty {
            let (block, count) = ready.removeFirst()
            current = block
            return UnsafeRawBufferPointer(rebasing: block[0..<count])
        }
        if let failure { throw failure }
        return UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// Stops the thread (when the reader is done early) and waits for it.
    func stop() {
        condition.lock()
        let running = thread != nil
        stopping = true
        condition.broadcast()
        condition.unlock()
        if running {
            finished.wait()
            thread = nil
        }
    }

    private func produce() {
        defer { finished.signal() }
        while true {
            condition.lock()
            while free.isEmpty && !stopping { condition.wait() }
            if stopping { condition.unlock(); return }
            let block = free.removeLast()
            condition.unlock()
            do {
                var filled = 0
                while filled < block.count {
                    let n = try decompressor.read(into: UnsafeMutableRawBufferPointer(rebasing: block[filled...]))
                    if n == 0 { break }
                    filled += n
                }
                condition.lock()
                if filled > 0 { ready.append((block, filled)) } else { free.append(block) }
                if filled < block.count { ended = true }
                condition.broadcast()
                condition.unlock()
                if filled < block.count { return }
            } catch {
                condition.lock()
                free.append(block)
                failure = error
                condition.broadcast()
                condition.unlock()
                return
            }
        }
    }
}
