import CZstd
import Crypto

/// Compresses pack frames for one thread of a `FrameCompressor`: a frame with delta bases is compressed against
/// them (read from the repository and checked like any frame) and kept as a delta frame when that pays, else
/// every frame is compressed on its own. A delta frame costs its readers the decompression of its bases, so it
/// is kept only when it is at most half a plain frame's size (a delta of 1/16 of the rows' size or less is kept
/// without compressing the frame plainly to compare).
final class DeltaCompression {
    private let level: Int32
    private let plain: OpaquePointer
    /// Made on the first delta frame: a delta frame's window reaches over its prefix, and a plain frame's must not.
    private var delta: OpaquePointer?
    private let pieces: PieceStore?

    /// - Parameter store: the repository's root, where bases are read (nil: every frame is plain).
    init(level: Int32, store: String?) throws {
        guard let context = Self.makeContext(level: level) else { throw VeloError("zstd: cannot allocate a compression context") }
        self.level = level
        plain = context
        pieces = store.map(PieceStore.init(root:))
    }

    deinit {
        ZSTD_freeCCtx(plain)
        if let delta { ZSTD_freeCCtx(delta) }
    }

    /// `input` compressed into one frame (against `bases` when that pays), with the SHA-256 of its bytes.
    func compress(_ input: ByteBuffer, ticket: Int, bases: [SegmentList.Frame]) throws -> FrameCompressor.Compressed {
        let raw = UnsafeRawBufferPointer(start: input.base, count: input.count)
        var bytes: [UInt8]?
        var used: [SegmentList.Frame] = []
        if !bases.isEmpty, let prefix = prefix(of: bases), let context = deltaContext() {
            let delta = try prefix.withUnsafeBytes { try ZstdFrame.compress(raw, prefix: $0, context: context) }
            if delta.count * 16 <= raw.count {
                (bytes, used) = (delta, bases)
            } else {
                let alone = try ZstdFrame.compress(raw, level: level, context: plain)
                (bytes, used) = delta.count * 2 <= alone.count ? (delta, bases) : (alone, [])
            }
        }
        let frame = try bytes ?? ZstdFrame.compress(raw, level: level, context: plain)
        let sha256 = frame.withUnsafeBytes { Array(SHA256.hash(data: $0)) }
        return FrameCompressor.Compressed(ticket: ticket, bytes: frame, rawBytes: input.count, sha256: sha256, bases: used)
    }

    /// The bases' bytes, in order; nil when one cannot be read (the frame is then stored plain, and the damage
    /// is the previous snapshot's to report).
    private func prefix(of bases: [SegmentList.Frame]) -> [UInt8]? {
        guard let pieces else { return nil }
        var prefix: [UInt8] = []
        for base in bases {
            do {
                let bytes = try pieces.frame(base)
                if bases.count == 1 { return bytes }
                prefix += bytes
            } catch {
                Diagnostics.warn("\(error); a new frame is stored without it")
                return nil
            }
        }
        return prefix
    }

    private func deltaContext() -> OpaquePointer? {
        if delta == nil { delta = Self.makeContext(level: level) }
        return delta
    }

    /// A compression context set up as every frame of a pack is compressed (`ZstdTuning`, as the full
    /// archive's stream).
    private static func makeContext(level: Int32) -> OpaquePointer? {
        guard let context = ZSTD_createCCtx() else { return nil }
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        guard (try? ZstdTuning.apply(level: level, to: context)) != nil else {
            ZSTD_freeCCtx(context)
            return nil
        }
        return context
    }
}
