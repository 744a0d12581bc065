import CZstd
import VeloFormat
import VeloStorage

/// One-shot zstd for the frames of pack files and for segment lists: each is compressed and checked whole.
package enum ZstdFrame {
    /// Compresses `bytes` into one frame (with zstd's content checksum) at `level`. With `scratch` (at least
    /// `ZSTD_compressBound(bytes.count)` bytes) zstd writes there and the frame is copied out at its own size,
    /// instead of into an array of the bound's capacity (a thread compressing many frames reuses one scratch).
    package static func compress(
        _ bytes: UnsafeRawBufferPointer, level: Int32, context: OpaquePointer? = nil,
        scratch: UnsafeMutableRawBufferPointer? = nil
    ) throws -> [UInt8] {
        let owned = context == nil ? ZSTD_createCCtx() : nil
        defer { if let owned { ZSTD_freeCCtx(owned) } }
        guard let cctx = context ?? owned else { throw VeloError("zstd: cannot allocate a compression context") }
        _ = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        _ = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        return try run(cctx, bytes, scratch: scratch)
    }

    /// Runs `ZSTD_compress2` with `cctx` as set up (into `scratch` when given, see `compress`).
    private static func run(
        _ cctx: OpaquePointer, _ bytes: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer?
    ) throws -> [UInt8] {
        var n = 0
        if let scratch, scratch.count >= ZSTD_compressBound(bytes.count) {
            n = ZSTD_compress2(cctx, scratch.baseAddress, scratch.count, bytes.baseAddress, bytes.count)
            if ZSTD_isError(n) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(n)))") }
            return Array(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
        }
        // Not zero-filled first: only the bytes zstd wrote are kept.
        let out = [UInt8](unsafeUninitializedCapacity: ZSTD_compressBound(bytes.count)) { buffer, count in
            n = ZSTD_compress2(cctx, buffer.baseAddress, buffer.count, bytes.baseAddress, bytes.count)
            count = ZSTD_isError(n) == 0 ? n : 0
        }
        if ZSTD_isError(n) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(n)))") }
        return out
    }

    package static func compress(_ bytes: [UInt8], level: Int32) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try compress($0, level: level) }
    }

    /// Compresses `bytes` into one frame against `prefix` (zstd's single-use raw-content dictionary, as if the
    /// prefix came right before the bytes), with `context`'s parameters and a window that reaches back over the
    /// whole prefix: a delta frame (`FrameTable`), which only a reader holding the same prefix can decompress.
    package static func compress(
        _ bytes: UnsafeRawBufferPointer, prefix: UnsafeRawBufferPointer, context: OpaquePointer,
        scratch: UnsafeMutableRawBufferPointer? = nil
    ) throws -> [UInt8] {
        var windowLog: Int32 = 10
        while windowLog < 27 && (1 << windowLog) < prefix.count + bytes.count { windowLog += 1 }
        for (parameter, value) in [(ZSTD_c_checksumFlag, Int32(1)), (ZSTD_c_windowLog, windowLog)] {
            let code = ZSTD_CCtx_setParameter(context, parameter, value)
            if ZSTD_isError(code) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(code)))") }
        }
        let code = ZSTD_CCtx_refPrefix(context, prefix.baseAddress, prefix.count)
        if ZSTD_isError(code) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(code)))") }
        return try run(context, bytes, scratch: scratch)
    }

    /// Decompresses one frame that must hold exactly `rawBytes` bytes (at most `limit`); a delta frame with the
    /// `prefix` it was compressed against (in `context` when given, else in one made for the call).
    /// - Throws: a `String`-described failure when the frame is damaged or of another size.
    package static func decompress(
        _ bytes: [UInt8], rawBytes: Int? = nil, limit: Int = SegmentFormat.maxFrameBytes,
        prefix: UnsafeRawBufferPointer? = nil, context given: OpaquePointer? = nil
    ) throws -> [UInt8] {
        let size = try bytes.withUnsafeBytes { try contentSize(of: $0, rawBytes: rawBytes, limit: limit) }
        var code = 0
        var context: OpaquePointer?
        var owned: OpaquePointer?
        defer { if let owned { ZSTD_freeDCtx(owned) } }
        if let prefix {
            if given == nil { owned = ZSTD_createDCtx() }
            guard let dctx = given ?? owned else { throw VeloError("zstd: cannot allocate a decompression context") }
            context = dctx
            code = ZSTD_DCtx_refPrefix(dctx, prefix.baseAddress, prefix.count)
            if ZSTD_isError(code) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(code)))") }
        }
        // Not zero-filled first: zstd writes every byte or fails (and then the array is dropped).
        let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            code = bytes.withUnsafeBytes { i in
                if let context { return ZSTD_decompressDCtx(context, buffer.baseAddress, buffer.count, i.baseAddress, i.count) }
                return ZSTD_decompress(buffer.baseAddress, buffer.count, i.baseAddress, i.count)
            }
            count = ZSTD_isError(code) == 0 && code == buffer.count ? buffer.count : 0
            if count == 0 { buffer.initialize(repeating: 0); count = buffer.count }
        }
        if ZSTD_isError(code) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(code)))", kind: .damaged) }
        guard code == out.count else { throw VeloError("the frame is shorter than it says", kind: .damaged) }
        return out
    }

    /// Decompresses one frame (not a delta frame) of exactly `rawBytes` bytes onto the end of `out`.
    /// - Throws: a `String`-described failure when the frame is damaged or of another size (`out` is then as before).
    static func decompress(_ bytes: UnsafeRawBufferPointer, rawBytes: Int, appendingTo out: ByteBuffer) throws {
        _ = try contentSize(of: bytes, rawBytes: rawBytes, limit: SegmentFormat.maxFrameBytes)
        out.reserve(rawBytes)
        let code = ZSTD_decompress(out.base + out.count, rawBytes, bytes.baseAddress, bytes.count)
        if ZSTD_isError(code) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(code)))", kind: .damaged) }
        guard code == rawBytes else { throw VeloError("the frame is shorter than it says", kind: .damaged) }
        out.truncateForward(by: rawBytes)
    }

    /// The size a frame's header says it decompresses to, checked against `rawBytes` (when given) and `limit`.
    private static func contentSize(of bytes: UnsafeRawBufferPointer, rawBytes: Int?, limit: Int) throws -> Int {
        let size = ZSTD_getFrameContentSize(bytes.baseAddress, bytes.count)
        guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN, size <= UInt64(limit) else {
            throw VeloError("not a zstd frame of at most \(limit >> 20) MiB", kind: .damaged)
        }
        if let rawBytes, Int(size) != rawBytes {
            throw VeloError("the frame holds \(size) bytes, its list says \(rawBytes)", kind: .damaged)
        }
        return Int(size)
    }
}
