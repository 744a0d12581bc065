/// A table's segments in row order, as stored in `data/lists/<hh>/<sha256>.list` (zstd-compressed; the name is
/// the SHA-256 of the uncompressed list). It names the packs and frames the segments are in (each frame with
/// the SHA-256 of its compressed bytes) and, per segment, where in its frame it is, its bytes and rows, the key
/// of its last row and the first 8 bytes of its SHA-256 (what a later backup compares to reuse it).
///
///     "VSL1"
///     packs:    count, then count × 32-byte SHA-256 (the pack file's name)
///     frames:   count, then per frame: pack index, offset, compressed length, raw length, 32-byte SHA-256
///     segments: count, then per segment: frame index, offset in frame (signed, from the end of the previous
///               segment in the same frame, else from 0), bytes, rows, last key (signed, from the previous
///               segment's), the first 8 bytes of its SHA-256
///
/// Numbers are LEB128 varints; signed ones zigzag-encoded.
package struct SegmentList {
    package static let magic: [UInt8] = Array("VSL1".utf8)

    /// A zstd frame of a pack: where it is and what its compressed bytes hash to.
    package struct Frame: Hashable, Sendable {
        package var pack: String
        package var offset: Int64
        package var length: Int
        package var rawBytes: Int
        package var sha256: [UInt8]
    }

    /// One segment as listed.
    package struct Segment: Sendable {
        package var frame: Int
        package var offset: Int
        package var bytes: Int
        package var rows: Int
        package var lastKey: Int64
        package var hash: (UInt64, UInt64)
    }

    package let packs: [String]
    package let frames: [Frame]
    package let segmentCount: Int
    private var cursor: ByteCursor
    private var read = 0
    private var previousFrame = -1
    private var previousEnd = 0
    private var previousKey: Int64 = 0

    /// Parses the pack and frame tables; segments are then read in order with `next()`.
    package init(bytes: [UInt8], name: String) throws {
        var c = ByteCursor(bytes, name: name)
        guard Array(try c.raw(4)) == Self.magic else { throw ByteCursor.Malformed(name: name) }
        var packs: [String] = []
        for _ in 0..<(try c.int(max: 1 << 24)) { packs.append(SHA256Digest.hex(Array(try c.raw(32)))) }
        var frames: [Frame] = []
        for _ in 0..<(try c.int(max: 1 << 26)) {
            let pack = try c.int(max: packs.count - 1)
            let offset = Int64(try c.int(max: Int.max))
            let length = try c.int(max: SegmentFormat.maxFrameBytes)
            let raw = try c.int(max: SegmentFormat.maxFrameBytes)
            frames.append(Frame(pack: packs[pack], offset: offset, length: length, rawBytes: raw, sha256: Array(try c.raw(32))))
        }
        segmentCount = try c.int(max: Int.max)
        self.packs = packs
        self.frames = frames
        cursor = c
    }

    /// The next segment, nil after the last.
    package mutating func next() throws -> Segment? {
        guard read < segmentCount else { return nil }
        read += 1
        let frame = try cursor.int(max: frames.count - 1)
        let delta = try cursor.signed()
        let offset = Int(delta) + (frame == previousFrame ? previousEnd : 0)
        let bytes = try cursor.int(max: SegmentFormat.maxFrameBytes)
        let rows = try cursor.int()
        let key = previousKey &+ (try cursor.signed())
        let hash = try cursor.raw(SegmentFormat.segmentHashBytes)
        guard offset >= 0, offset + bytes <= frames[frame].rawBytes else { throw ByteCursor.Malformed(name: cursor.name) }
        previousFrame = frame
        previousEnd = offset + bytes
        previousKey = key
        return Segment(frame: frame, offset: offset, bytes: bytes, rows: rows, lastKey: key, hash: Self.words(hash))
    }

    static func words(_ bytes: ArraySlice<UInt8>) -> (UInt64, UInt64) {
        var a: UInt64 = 0, b: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            if i < 8 { a = a << 8 | UInt64(byte) } else { b = b << 8 | UInt64(byte) }
        }
        return (a, b)
    }
}

/// Builds a segment list in row order, for new segments and reused ones alike.
package struct SegmentListBuilder {
    private var packs: [String] = []
    private var packIndex: [String: Int] = [:]
    private var frames: [SegmentList.Frame] = []
    private var frameIndex: [SegmentList.Frame: Int] = [:]
    private var segments: [UInt8] = []
    private(set) package var segmentCount = 0
    private var previousFrame = -1
    private var previousEnd = 0
    private var previousKey: Int64 = 0

    package init() {}

    package mutating func append(frame: SegmentList.Frame, offset: Int, bytes: Int, rows: Int, lastKey: Int64, hash: (UInt64, UInt64)) {
        let f: Int
        if let known = frameIndex[frame] { f = known } else {
            if packIndex[frame.pack] == nil {
                packIndex[frame.pack] = packs.count
                packs.append(frame.pack)
            }
            f = frames.count
            frames.append(frame)
            frameIndex[frame] = f
        }
        Varint.append(UInt64(f), to: &segments)
        Varint.appendSigned(Int64(offset - (f == previousFrame ? previousEnd : 0)), to: &segments)
        Varint.append(UInt64(bytes), to: &segments)
        Varint.append(UInt64(rows), to: &segments)
        Varint.appendSigned(lastKey &- previousKey, to: &segments)
        for i in 0..<SegmentFormat.segmentHashBytes {
            let word = i < 8 ? hash.0 : hash.1
            segments.append(UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (i % 8))))
        }
        previousFrame = f
        previousEnd = offset + bytes
        previousKey = lastKey
        segmentCount += 1
    }

    /// The list's bytes (uncompressed).
    package func finish() -> [UInt8] {
        var out = SegmentList.magic
        Varint.append(UInt64(packs.count), to: &out)
        for pack in packs { out += Self.bytes(hex: pack) }
        Varint.append(UInt64(frames.count), to: &out)
        for frame in frames {
            Varint.append(UInt64(packIndex[frame.pack]!), to: &out)
            Varint.append(UInt64(frame.offset), to: &out)
            Varint.append(UInt64(frame.length), to: &out)
            Varint.append(UInt64(frame.rawBytes), to: &out)
            out += frame.sha256
        }
        Varint.append(UInt64(segmentCount), to: &out)
        return out + segments
    }

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var high: UInt8?
        for c in hex.utf8 {
            let v: UInt8 = c >= 97 ? c - 87 : c - 48
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }
}
