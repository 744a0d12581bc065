import VeloFormat
import VeloStorage

/// The pack and frame tables at the head of segment lists and patches, read and written the same way for both.
///
///     packs:    count, then count × 32-byte pack name
///     frames:   count, then per frame: pack index, offset, compressed length, raw length, 32-byte SHA-256
///               and, in lists and patches of the second kind ("VSL2", "VSP2"), its delta bases: count, then
///               each base's index in the frame table (of a patch: in the patched list's table, the base list's
///               frames followed by the patch's)
///
/// A frame with bases is a *delta frame*: zstd compressed it with its bases' decompressed bytes, in that order,
/// as a prefix (`ZSTD_CCtx_refPrefix`), so it is read by decompressing them first. A base is always a frame
/// without bases of its own, so a delta needs one step back, never a chain.
package enum FrameTable {
    /// A delta frame's bases decompress to at most this many bytes in all (writers keep to
    /// `SegmentFormat.maxDeltaBaseBytes`; a reader takes a little more, and no more, so that what it holds to
    /// decompress one frame stays bounded on any input).
    static let maxBaseBytes = 8 << 20
    /// A delta frame has at most this many bases (writers keep to it too: `DeltaBases`).
    static let maxBases = 64

    /// Reads a pack table and a frame table; each frame's base indexes are returned beside the frames (they are
    /// resolved once the whole table, and for a patch its base list's, is known: `resolve`).
    static func read(_ c: inout ByteCursor, withBases: Bool) throws -> (packs: [String], frames: [SegmentList.Frame], bases: [[Int]]) {
        var packs: [String] = []
        for _ in 0..<(try c.int(max: 1 << 24)) { packs.append(SHA256Digest.hex(Array(try c.raw(32)))) }
        var frames: [SegmentList.Frame] = []
        var bases: [[Int]] = []
        for _ in 0..<(try c.int(max: 1 << 26)) {
            let pack = try c.int(max: packs.count - 1)
            let offset = Int64(try c.int(max: Int.max))
            let length = try c.int(max: SegmentFormat.maxFrameBytes)
            let raw = try c.int(max: SegmentFormat.maxFrameBytes)
            frames.append(SegmentList.Frame(pack: packs[pack], offset: offset, length: length, rawBytes: raw, sha256: Array(try c.raw(32))))
            var indexes: [Int] = []
            if withBases {
                for _ in 0..<(try c.int(max: maxBases)) { indexes.append(try c.int(max: 1 << 26)) }
            }
            bases.append(indexes)
        }
        return (packs, frames, bases)
    }

    /// Gives `frames[start...]` their bases: `indexes[i]` are frame `start + i`'s bases, as indexes into `frames`.
    /// - Throws: `ByteCursor.Malformed` naming `name` when a base is out of the table, is itself a delta frame,
    ///   is the frame itself, or the bases together are larger than a reader takes.
    static func resolve(_ frames: inout [SegmentList.Frame], from start: Int, indexes: [[Int]], name: String) throws {
        for (i, list) in indexes.enumerated() where !list.isEmpty {
            let own = start + i
            var bases: [SegmentList.Frame] = []
            var bytes = 0
            for index in list {
                guard index < frames.count, index != own else { throw ByteCursor.Malformed(name: name) }
                // A base listed in this table must have no bases of its own (its own entry says so), and one
                // of the base list (already resolved) neither.
                let baseIndexes = index >= start ? indexes[index - start] : []
                guard baseIndexes.isEmpty, frames[index].bases.isEmpty else { throw ByteCursor.Malformed(name: name) }
                bases.append(frames[index])
                bytes += frames[index].rawBytes
            }
            guard bytes <= maxBaseBytes else { throw ByteCursor.Malformed(name: name) }
            frames[own].bases = bases
        }
    }

    /// Appends the pack table and the frame table (with each frame's bases, as indexes given by `index`, when
    /// `withBases`).
    static func write(
        packs: [String], packIndex: [String: Int], frames: [SegmentList.Frame], withBases: Bool,
        index: (SegmentList.Frame) -> Int, to out: inout [UInt8]
    ) {
        Varint.append(UInt64(packs.count), to: &out)
        for pack in packs { out += SegmentListBuilder.bytes(hex: pack) }
        Varint.append(UInt64(frames.count), to: &out)
        for frame in frames {
            Varint.append(UInt64(packIndex[frame.pack]!), to: &out)
            Varint.append(UInt64(frame.offset), to: &out)
            Varint.append(UInt64(frame.length), to: &out)
            Varint.append(UInt64(frame.rawBytes), to: &out)
            out += frame.sha256
            if withBases {
                Varint.append(UInt64(frame.bases.count), to: &out)
                for base in frame.bases { Varint.append(UInt64(index(base)), to: &out) }
            }
        }
    }
}
