import Foundation

/// The read path's two stages: one thread reads the file, hashes it and decompresses it into a fixed pool of
/// blocks (a `PipelineStage` with one worker, whose inputs are empty blocks and outputs filled ones); the
/// caller's thread takes the blocks in order (tar parsing, entry checksums, row checks). Memory is the pool,
/// whatever the archive's size.
final class DecompressionPipeline {
    private let blocks: [UnsafeMutableRawBufferPointer]
    private let stage: PipelineStage<UnsafeMutableRawBufferPointer, (UnsafeMutableRawBufferPointer, Int)>
    /// The block handed out last, given back on the next call.
    private var current: UnsafeMutableRawBufferPointer?
    private var ended = false

    init(decompressor: ZstdDecompressor, blockSize: Int = 1 << 20, blockCount: Int = 4) {
        blocks = (0..<blockCount).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16) }
        // Once the stream ended (or failed), blocks come back empty.
        var done = false
        stage = PipelineStage(workers: 1, capacity: blockCount, name: "velo-unzstd") { _ in
            { block in
                guard !done else { return (block, 0) }
                var filled = 0
                do {
                    while filled < block.count {
                        let n = try decompressor.read(into: UnsafeMutableRawBufferPointer(rebasing: block[filled...]))
                        if n == 0 { break }
                        filled += n
                    }
                } catch {
                    done = true
                    throw error
                }
                if filled < block.count { done = true }
                return (block, filled)
            }
        }
        for block in blocks { stage.submit(block) }
    }

    deinit {
        stop()
        for block in blocks { block.deallocate() }
    }

    /// The next block of decompressed bytes (valid until the next call), or an empty buffer at the end.
    func next() throws -> UnsafeRawBufferPointer {
        if let current {
            self.current = nil
            if !ended { stage.submit(current) }
        }
        guard !ended, let (block, count) = try stage.next() else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        guard count > 0 else {
            ended = true
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        if count < block.count { ended = true }
        current = block
        return UnsafeRawBufferPointer(rebasing: block[0..<count])
    }

    /// Stops the thread (when the reader is done early) and waits for it.
    func stop() {
        stage.stop()
    }
}
