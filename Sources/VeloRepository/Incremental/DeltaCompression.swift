import CZstd
import Crypto
import VeloFormat
import VeloStorage

/// Compresses pack frames for one thread of a `FrameCompressor`: a frame with delta bases is compressed against
/// them (read from the repository and checked like any frame) and kept as a delta frame when that pays, else
/// every frame is compressed on its own. A delta frame costs its readers the decompression of its bases, so it
/// is kept only when it is at most half a plain frame's size (a delta of 1/16 of the rows' size or less is kept
/// without compressing the frame plainly to compare).
package final class DeltaCompression {
    private let level: Int32
    private let context: OpaquePointer
    private let pieces: PieceStore?
    /// Where zstd writes each frame before it is copied out at its size (not zero-filled: its pages count only
    /// once written).
    private var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// The last frame's bases, decompressed one after the other (its prefix).
    private let joined = ByteBuffer(capacity: 0)
    private var joinedBases: [SegmentList.Frame] = []

    /// - Parameter storage: the repository's storage, where bases are read (nil: every frame is plain).
    init(level: Int32, storage: (any RepositoryStorage)?) throws {
        guard let context = ZSTD_createCCtx() else { throw VeloError("zstd: cannot allocate a compression context") }
        self.level = level
        self.context = context
        pieces = storage.map { PieceStore(storage: $0) }  // (bases are read with `appendFrame`: no decompressed frame is kept)
        try setUp()  // (on a failure the context is freed by deinit)
    }

    deinit {
        ZSTD_freeCCtx(context)
        scratch.deallocate()
    }

    /// `input` compressed into one frame (against `bases` when that pays), with the SHA-256 of its bytes.
    func compress(_ input: ByteBuffer, ticket: Int, bases: [SegmentList.Frame]) throws -> FrameCompressor.Compressed {
        let raw = UnsafeRawBufferPointer(start: input.base, count: input.count)
        // zstd writes into one scratch buffer per thread and each frame is copied out at its size: a frame in
        // flight holds its bytes, not the compression bound's (and a thread's big allocations are not remade per frame).
        let bound = ZSTD_compressBound(raw.count)
        if scratch.count < bound {
            scratch.deallocate()
            scratch = .allocate(byteCount: bound, alignment: 16)
        }
        let out = scratch
        var bytes: [UInt8]?
        var used: [SegmentList.Frame] = []
        if !bases.isEmpty {
            // The delta frame's window reaches over its prefix; a plain frame's must not: the context's
            // parameters are set up again after it (one context per thread, not two).
            let delta = try withPrefix(of: bases) { try ZstdFrame.compress(raw, prefix: $0, context: context, scratch: out) }
            if delta != nil { try setUp() }
            if let delta, delta.count * 16 <= raw.count {
                (bytes, used) = (delta, bases)
            } else if let delta {
                let alone = try ZstdFrame.compress(raw, level: level, context: context, scratch: out)
                (bytes, used) = delta.count * 2 <= alone.count ? (delta, bases) : (alone, [])
            }
        }
        let frame = try bytes ?? ZstdFrame.compress(raw, level: level, context: context, scratch: out)
        let sha256 = frame.withUnsafeBytes { Array(SHA256.hash(data: $0)) }
        return FrameCompressor.Compressed(ticket: ticket, bytes: frame, rawBytes: input.count, sha256: sha256, bases: used)
    }

    /// `body` applied to the bases' bytes, in order, decompressed into one buffer kept for the next frame (which
    /// usually has the same bases, or starts with this one's last); nil when a base cannot be read (the frame is
    /// then stored plain, and the damage is the previous snapshot's to report).
    private func withPrefix<T>(of bases: [SegmentList.Frame], _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        guard let pieces else { return nil }
        if bases != joinedBases {
            var kept = 0
            if let last = joinedBases.last, bases.first == last, last.rawBytes <= joined.count {
                kept = last.rawBytes
                UnsafeMutableRawPointer(joined.base).copyMemory(from: joined.base + joined.count - kept, byteCount: kept)
            }
            joined.truncate(to: kept)
            joinedBases = []
            do {
                for base in bases.dropFirst(kept > 0 ? 1 : 0) { try pieces.appendFrame(base, to: joined) }
            } catch {
                joined.removeAll()
                Diagnostics.warn("\(error); a new frame is stored without it")
                return nil
            }
            joinedBases = bases
        }
        return try body(joined.bytes)
    }

    /// Sets the context up as every plain frame of a pack is compressed (`ZstdTuning`, as the full archive's
    /// stream), dropping what a delta frame set.
    private func setUp() throws {
        _ = ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        try ZstdTuning.apply(level: level, to: context)
    }
}
