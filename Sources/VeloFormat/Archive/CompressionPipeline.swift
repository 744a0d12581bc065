import Foundation

/// A two-stage pipeline for the write path: the caller's thread (SQLite, encoding, tar) hands full blocks to one
/// compression thread (zstd, then the file), a `PipelineStage` with one worker whose outputs are the emptied
/// blocks. Memory is a fixed pool of blocks, so it does not grow with the database; the two cores each do one
/// half of the work. A profile showed zstd's own multi-threading needs several times the memory for the same
/// speed.
final class CompressionPipeline {
    private let blocks: [UnsafeMutableRawBufferPointer]
    /// Blocks not used yet start at this index of `blocks`.
    private var fresh = 1
    private var current: UnsafeMutableRawBufferPointer
    private var currentCount = 0
    private let compressor: ZstdCompressor
    private let stage: PipelineStage<(UnsafeMutableRawBufferPointer, Int), UnsafeMutableRawBufferPointer>

    /// - Parameters:
    ///   - blockSize: bytes per block handed over.
    ///   - blockCount: blocks in the pool (one filling, the others in flight at most).
    ///   - compressor: used only on the pipeline's thread until `finish`.
    init(compressor: ZstdCompressor, blockSize: Int = 2 << 20, blockCount: Int = 6) {
        self.compressor = compressor
        blocks = (0..<blockCount).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16) }
        current = blocks[0]
        // After a failed write the compressor is not used again: later blocks only come back.
        var failed = false
        stage = PipelineStage(workers: 1, capacity: blockCount, name: "velo-zstd") { _ in
            { item in
                let (block, count) = item
                guard !failed else { return block }
                do { try compressor.write(UnsafeRawBufferPointer(rebasing: block[0..<count])) } catch {
                    failed = true
                    throw error
                }
                return block
            }
        }
    }

    deinit {
        stage.stop()
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

    /// Hands over the last block, waits for the thread to compress everything, then ends the frame.
    func finish() throws {
        if currentCount > 0 {
            stage.submit((current, currentCount))
            currentCount = 0
        }
        while try stage.next() != nil {}
        stage.stop()
        try compressor.finish()
    }

    /// Stops the thread without finishing the frame (the file is being discarded).
    func cancel() {
        stage.stop()
    }

    /// Hands the filled block over and takes an empty one: a block never used yet, or the oldest one handed
    /// over, once compressed.
    private func handOver() throws {
        stage.submit((current, currentCount))
        currentCount = 0
        if fresh < blocks.count {
            current = blocks[fresh]
            fresh += 1
        } else {
            current = try stage.next()!
        }
    }
}
