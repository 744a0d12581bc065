import VeloFormat
import VeloStorage

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
/// Numbers are LEB128 varints; signed ones zigzag-encoded. A list read through a patch (`SegmentListPatch`)
/// yields its base's segments with the patch's runs applied; its frames are the base's followed by the
/// patch's, and its packs the base's followed by those of the patch's that the base does not name.
/// A list whose frame table has delta frames (`FrameTable`) starts "VSL2" instead, and its frame entries
/// carry their bases; everything else is the same.
package struct SegmentList {
    package static let magic: [UInt8] = Array("VSL1".utf8)
    /// The magic of a list with delta frames.
    package static let magicWithDeltas: [UInt8] = Array("VSL2".utf8)

    /// A zstd frame of a pack: where it is, what its compressed bytes hash to and, for a delta frame, the
    /// frames it was compressed against (`FrameTable`).
    package struct Frame: Hashable, Sendable {
        package var pack: String
        package var offset: Int64
        package var length: Int
        package var rawBytes: Int
        package var sha256: [UInt8]
        /// The frames whose decompressed bytes, in order, are this frame's zstd prefix; empty for most frames.
        package var bases: [Frame] = []
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

    package private(set) var packs: [String]
    package private(set) var frames: [Frame]
    package private(set) var segmentCount: Int
    /// The SHA-256 of the full list this one was read through a patch of; nil for a full list.
    package private(set) var base: String?
    /// Whether a frame of the list (or of its base list) is a delta frame: such a list is stored as "VSL2" or
    /// "VSP2", and its snapshot's `segments.json` is of version 3.
    package var hasDeltaFrames: Bool { frames.contains { !$0.bases.isEmpty } }
    private var cursor: ByteCursor
    /// Frames the list's own segments may use (the base's alone, for a list read through a patch).
    private var ownFrames: Int
    private var read = 0
    private var previousFrame = -1
    private var previousEnd = 0
    private var previousKey: Int64 = 0
    /// For a list read through a patch: the patch, where its runs are, and how far into the base reading is.
    private var patch: PatchState?

    private struct PatchState {
        var patch: SegmentListPatch
        var baseSegments: Int
        var baseRead = 0
        /// Base position of the next run (Int.max after the last), and what the current run still removes and adds.
        var nextRun = Int.max
        var removeLeft = 0
        var addLeft = 0
        var gapPending = false
        var previousFrame = -1
        var previousEnd = 0
        var previousKey: Int64 = 0
    }

    /// Parses the pack and frame tables; segments are then read in order with `next()`.
    package init(bytes: [UInt8], name: String) throws {
        var c = ByteCursor(bytes, name: name)
        let magic = Array(try c.raw(4))
        guard magic == Self.magic || magic == Self.magicWithDeltas else { throw ByteCursor.Malformed(name: name) }
        var (packs, frames, bases) = try FrameTable.read(&c, withBases: magic == Self.magicWithDeltas)
        try FrameTable.resolve(&frames, from: 0, indexes: bases, name: name)
        segmentCount = try c.int(max: Int.max)
        self.packs = packs
        self.frames = frames
        ownFrames = frames.count
        cursor = c
    }

    /// The list `patch` makes of `base` (the full list it names, not yet read).
    /// - Throws: `ByteCursor.Malformed` naming the patch when it does not fit its base.
    package init(base: SegmentList, patch: SegmentListPatch) throws {
        guard base.patch == nil, base.read == 0, base.segmentCount == patch.baseSegments else {
            throw ByteCursor.Malformed(name: patch.cursor.name)
        }
        self = base
        self.base = patch.base
        segmentCount = patch.segmentCount
        frames = base.frames + patch.frames
        try FrameTable.resolve(&frames, from: base.frames.count, indexes: patch.frameBases, name: patch.cursor.name)
        for pack in patch.packs where !packs.contains(pack) { packs.append(pack) }
        var state = PatchState(patch: patch, baseSegments: base.segmentCount)
        if state.patch.runsLeft > 0 { state.nextRun = try state.patch.cursor.int(max: base.segmentCount) }
        self.patch = state
    }

    /// The next segment, nil after the last.
    package mutating func next() throws -> Segment? {
        guard read < segmentCount else { return nil }
        read += 1
        guard patch != nil else { return try nextListed() }
        while true {
            if patch!.removeLeft > 0 {
                guard patch!.baseRead < patch!.baseSegments else { throw ByteCursor.Malformed(name: patch!.patch.cursor.name) }
                _ = try nextListed()
                patch!.baseRead += 1
                patch!.removeLeft -= 1
            } else if patch!.addLeft > 0 {
                patch!.addLeft -= 1
                return try nextAdded()
            } else if patch!.gapPending {
                patch!.gapPending = false
                if patch!.patch.runsLeft > 0 {
                    patch!.nextRun = patch!.baseRead + (try patch!.patch.cursor.int(max: patch!.baseSegments - patch!.baseRead))
                }
            } else if patch!.baseRead == patch!.nextRun {
                patch!.removeLeft = try patch!.patch.cursor.int(max: patch!.baseSegments - patch!.baseRead)
                patch!.addLeft = try patch!.patch.cursor.int(max: segmentCount)
                patch!.patch.runsLeft -= 1
                patch!.nextRun = Int.max
                patch!.gapPending = true
            } else {
                guard patch!.baseRead < patch!.baseSegments else { throw ByteCursor.Malformed(name: patch!.patch.cursor.name) }
                patch!.baseRead += 1
                return try nextListed()
            }
        }
    }

    /// The next segment a patch adds.
    private mutating func nextAdded() throws -> Segment {
        var p = patch!
        defer { patch = p }
        let frame = try p.patch.cursor.int(max: frames.count - 1)
        let delta = try p.patch.cursor.signed()
        let offset = Int(delta) + (frame == p.previousFrame ? p.previousEnd : 0)
        let bytes = try p.patch.cursor.int(max: SegmentFormat.maxFrameBytes)
        let rows = try p.patch.cursor.int()
        let key = p.previousKey &+ (try p.patch.cursor.signed())
        let hash = try p.patch.cursor.raw(SegmentFormat.segmentHashBytes)
        guard offset >= 0, offset + bytes <= frames[frame].rawBytes else { throw ByteCursor.Malformed(name: p.patch.cursor.name) }
        p.previousFrame = frame
        p.previousEnd = offset + bytes
        p.previousKey = key
        return Segment(frame: frame, offset: offset, bytes: bytes, rows: rows, lastKey: key, hash: hash.withUnsafeBytes { Self.words($0) })
    }

    /// The next segment of the list's own bytes (the base's, for a list read through a patch).
    private mutating func nextListed() throws -> Segment {
        let frame = try cursor.int(max: ownFrames - 1)
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
        return Segment(frame: frame, offset: offset, bytes: bytes, rows: rows, lastKey: key, hash: hash.withUnsafeBytes { Self.words($0) })
    }

    /// The first 16 bytes of `bytes` (a segment's hash) as two big-endian words. Not generic: it runs once per
    /// segment, called from the layer above, where an unspecialized generic paid a metadata lookup per byte.
    package static func words(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        var a: UInt64 = 0, b: UInt64 = 0
        for i in 0..<min(bytes.count, 16) {
            if i < 8 { a = a << 8 | UInt64(bytes[i]) } else { b = b << 8 | UInt64(bytes[i]) }
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
    private var hasDeltaFrames = false
    private var segments: [UInt8] = []
    private(set) package var segmentCount = 0
    private var previousFrame = -1
    private var previousEnd = 0
    private var previousKey: Int64 = 0

    package init() {}

    package mutating func append(frame: SegmentList.Frame, offset: Int, bytes: Int, rows: Int, lastKey: Int64, hash: (UInt64, UInt64)) {
        // Most segments are in the frame of the one before: no hashing of the frame.
        let f = previousFrame >= 0 && frames[previousFrame] == frame ? previousFrame : index(of: frame)
        Varint.append(UInt64(f), to: &segments)
        Varint.appendSigned(Int64(offset - (f == previousFrame ? previousEnd : 0)), to: &segments)
        Varint.append(UInt64(bytes), to: &segments)
        Varint.append(UInt64(rows), to: &segments)
        Varint.appendSigned(lastKey &- previousKey, to: &segments)
        Self.appendHash(hash, to: &segments)
        previousFrame = f
        previousEnd = offset + bytes
        previousKey = lastKey
        segmentCount += 1
    }

    /// The frame's index in the list's frame table, adding it (and, for a delta frame, its bases: the list
    /// names every frame a reader needs, and prune keeps their packs) when it is not there yet.
    private mutating func index(of frame: SegmentList.Frame) -> Int {
        if let known = frameIndex[frame] { return known }
        for base in frame.bases { _ = index(of: base) }
        if packIndex[frame.pack] == nil {
            packIndex[frame.pack] = packs.count
            packs.append(frame.pack)
        }
        frames.append(frame)
        frameIndex[frame] = frames.count - 1
        if !frame.bases.isEmpty { hasDeltaFrames = true }
        return frames.count - 1
    }

    /// The list's bytes (uncompressed): "VSL2" when a frame is a delta frame, else "VSL1" (as velo wrote before
    /// delta frames).
    package mutating func finish() -> [UInt8] {
        var head = hasDeltaFrames ? SegmentList.magicWithDeltas : SegmentList.magic
        let known = frameIndex
        FrameTable.write(packs: packs, packIndex: packIndex, frames: frames, withBases: hasDeltaFrames, index: { known[$0]! }, to: &head)
        Varint.append(UInt64(segmentCount), to: &head)
        // The head goes in front of the segments in their own buffer (a large table's list is megabytes: a second
        // buffer for the whole list would double it), and the builder lets go of it.
        var out: [UInt8] = []
        swap(&out, &segments)
        out.insert(contentsOf: head, at: 0)
        return out
    }

    /// Appends the first `SegmentFormat.segmentHashBytes` bytes of a segment's hash (as `SegmentList.words` reads them).
    static func appendHash(_ hash: (UInt64, UInt64), to out: inout [UInt8]) {
        for i in 0..<SegmentFormat.segmentHashBytes {
            let word = i < 8 ? hash.0 : hash.1
            out.append(UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (i % 8))))
        }
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
