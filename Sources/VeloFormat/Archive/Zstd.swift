import CZstd

/// Streaming zstd compression into a byte sink. Frames carry zstd's content checksum, so any flipped bit in an
/// archive is caught when it is decompressed. With `workers` > 0 zstd compresses on its own threads while the
/// caller keeps encoding rows.
package final class ZstdCompressor {
    private let context: OpaquePointer
    @exclusivity(unchecked) private var output: [UInt8]
    private let sink: (UnsafeRawBufferPointer) throws -> Void

    package init(
        level: Int32, workers: Int32, jobBytes: Int32 = 0, windowLog: Int32? = nil, sink: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard let context = ZSTD_createCCtx() else { throw VeloError("zstd: cannot allocate a compression context") }
        self.context = context
        self.sink = sink
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        try ZstdTuning.apply(level: level, to: context)
        if let windowLog { try check(ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, windowLog)) }
        if workers > 0 {
            // A library built without threads refuses this; compressing on the calling thread is still correct.
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, workers)
            if jobBytes > 0 { _ = ZSTD_CCtx_setParameter(context, ZSTD_c_jobSize, jobBytes) }
        }
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `bytes`, passing finished output to the sink.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            try drain(&input, ZSTD_e_continue)
        }
    }

    /// Ends the frame and flushes everything to the sink.
    package func finish() throws {
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try drain(&input, ZSTD_e_end) != 0 {}
    }

    @discardableResult
    private func drain(_ input: inout ZSTD_inBuffer, _ mode: ZSTD_EndDirective) throws -> Int {
        try output.withUnsafeMutableBytes { out in
            var buffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
            let remaining = ZSTD_compressStream2(context, &buffer, &input, mode)
            try check(remaining)
            if buffer.pos > 0 { try sink(UnsafeRawBufferPointer(rebasing: out[0..<buffer.pos])) }
            return remaining
        }
    }

    private func check(_ code: Int) throws {
        if ZSTD_isError(code) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(code)))") }
    }
}

/// Streaming zstd decompression from a byte source. Reports truncated frames and checksum mismatches.
package final class ZstdDecompressor {
    /// Why decompression failed.
    struct Failure: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    private let context: OpaquePointer
    @exclusivity(unchecked) private var input: [UInt8]
    @exclusivity(unchecked) private var inputPosition = 0
    @exclusivity(unchecked) private var inputCount = 0
    private var sourceEnded = false
    /// Whether the last frame ended cleanly (a stream may hold several frames).
    private var frameOpen = false
    private var sawAnyInput = false
    private let source: (UnsafeMutableRawBufferPointer) throws -> Int

    /// - Parameter source: fills a buffer with compressed bytes and returns how many (0 at the end).
    package init(source: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        guard let context = ZSTD_createDCtx() else { throw VeloError("zstd: cannot allocate a decompression context") }
        self.context = context
        // A frame states the window it needs and zstd allocates it: a hostile frame could ask for 2 GiB. velo
        // writes at most level 19 (an 8 MiB window), so frames that need more than 16 MiB are refused.
        _ = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(ArchiveFormat.maxZstdWindowLog))
        self.source = source
        input = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Fills `buffer` with decompressed bytes; returns 0 only at the clean end of the stream.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while output.pos == 0 {
            if inputPosition == inputCount && !sourceEnded {
                inputCount = try input.withUnsafeMutableBytes { try source($0) }
                inputPosition = 0
                if inputCount == 0 { sourceEnded = true } else { sawAnyInput = true }
            }
            if inputPosition == inputCount && sourceEnded {
                if frameOpen { throw Failure(reason: "the zstd stream is truncated (its last frame does not end)") }
                if !sawAnyInput { throw Failure(reason: "the file is empty") }
                return 0
            }
            let code: Int = input.withUnsafeBytes { inBytes in
                var inBuffer = ZSTD_inBuffer(src: inBytes.baseAddress, size: inputCount, pos: inputPosition)
                let code = ZSTD_decompressStream(context, &output, &inBuffer)
                inputPosition = inBuffer.pos
                return code
            }
            if ZSTD_isError(code) != 0 {
                if ZSTD_getErrorCode(code) == ZSTD_error_frameParameter_windowTooLarge {
                    throw Failure(
                        reason:
                            "a zstd frame needs a window larger than the \(1 << (ArchiveFormat.maxZstdWindowLog - 20)) MiB velo allows (not written by velo?)"
                    )
                }
                throw Failure(reason: "zstd: \(String(cString: ZSTD_getErrorName(code)))")
            }
            frameOpen = code != 0
        }
        return output.pos
    }
}
