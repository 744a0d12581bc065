import VeloFormat
import VeloStorage

/// A table's segment list stored as the differences from a full list (its *base*), in the same place and
/// named the same way as a full list (`data/lists/<hh>/<sha256>.list`, zstd-compressed, the name the SHA-256
/// of the uncompressed bytes). A snapshot whose table changed a little stores only the segments that differ
/// instead of a whole new list. A patch always refers to a full list, never to another patch, so a table's
/// segments are read from at most two pieces (`PieceStore.readList` applies it; `SegmentList` yields the
/// merged segments in order).
///
///     "VSP1"
///     base:     32-byte SHA-256 of the full list, then its segment count
///     packs:    count, then count × 32-byte pack name (packs of the new frames)
///     frames:   count, then per frame as in a full list (pack index into these packs); the merged list's frame
///               table is the base's frames followed by these
///     segments: the merged list's segment count
///     runs:     count, then per run: base segments kept since the previous run's removed ones, base segments
///               removed, segments added, then per added segment as in a full list (frame index into the merged
///               frame table; offset, last key deltas from the previous added segment)
package struct SegmentListPatch {
    package static let magic: [UInt8] = Array("VSP1".utf8)
    /// The magic of a patch whose frames include delta frames.
    package static let magicWithDeltas: [UInt8] = Array("VSP2".utf8)
    /// A new full list is written instead of a patch that would add more than this share of its base's
    /// segments (then every later patch refers to the new list). Chosen by measurement (Benchmarks/incremental.sh
    /// --only-year, 20,000 posts): 0.25 and 0.5 gave the same year within 1% (turnover 4.43x / 4.40x, hot rows
    /// 2.45x / 2.47x of a full archive); the smaller keeps a base and its patch within 1.25 lists in memory.
    package static let maxAddedShare = 0.25

    package let base: String
    package let baseSegments: Int
    package let packs: [String]
    package let frames: [SegmentList.Frame]
    /// Each of `frames`' bases, as indexes into the patched list's frame table (resolved by `SegmentList`).
    let frameBases: [[Int]]
    package let segmentCount: Int
    var cursor: ByteCursor
    var runsLeft: Int

    /// Whether `bytes` are a patch rather than a full list.
    package static func isPatch(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && (Array(bytes[0..<4]) == magic || Array(bytes[0..<4]) == magicWithDeltas)
    }

    /// Parses everything up to the runs, which `SegmentList` reads as it goes.
    package init(bytes: [UInt8], name: String) throws {
        var c = ByteCursor(bytes, name: name)
        let magic = Array(try c.raw(4))
        guard magic == Self.magic || magic == Self.magicWithDeltas else { throw ByteCursor.Malformed(name: name) }
        base = SHA256Digest.hex(Array(try c.raw(32)))
        baseSegments = try c.int(max: Int.max)
        (packs, frames, frameBases) = try FrameTable.read(&c, withBases: magic == Self.magicWithDeltas)
        segmentCount = try c.int(max: Int.max)
        runsLeft = try c.int(max: Int.max)
        cursor = c
    }

    /// The patch turning `base` (a full list, named `baseSHA256`, not yet read) into `new` (a full list's
    /// bytes), or nil when it would add more than `maxAddedShare` of the base's segments. Both lists are read
    /// once, in step: segments are in key order, so a segment of one that the other lacks at its key is removed
    /// or added, and equal ones (same frame, place, size, rows, key and hash) are kept.
    package static func make(base: SegmentList, baseSHA256: String, new: [UInt8]) throws -> [UInt8]? {
        var old = base
        var next = try SegmentList(bytes: new, name: "new segment list")
        let limit = Int((Double(base.segmentCount) * maxAddedShare).rounded(.down))
        var baseFrames: [SegmentList.Frame: Int] = [:]
        for (i, frame) in base.frames.enumerated() where baseFrames[frame] == nil { baseFrames[frame] = i }
        var packs: [String] = []
        var packIndex: [String: Int] = [:]
        var frames: [SegmentList.Frame] = []
        var frameIndex: [SegmentList.Frame: Int] = [:]
        var runs: [UInt8] = []
        var runCount = 0
        var added = 0
        var kept = 0
        var run: (removed: Int, entries: [SegmentList.Segment])?
        var previousFrame = -1, previousEnd = 0
        var previousKey: Int64 = 0

        func close() {
            guard let r = run else { return }
            Varint.append(UInt64(kept), to: &runs)
            Varint.append(UInt64(r.removed), to: &runs)
            Varint.append(UInt64(r.entries.count), to: &runs)
            for s in r.entries {
                Varint.append(UInt64(s.frame), to: &runs)
                Varint.appendSigned(Int64(s.offset - (s.frame == previousFrame ? previousEnd : 0)), to: &runs)
                Varint.append(UInt64(s.bytes), to: &runs)
                Varint.append(UInt64(s.rows), to: &runs)
                Varint.appendSigned(s.lastKey &- previousKey, to: &runs)
                SegmentListBuilder.appendHash(s.hash, to: &runs)
                previousFrame = s.frame
                previousEnd = s.offset + s.bytes
                previousKey = s.lastKey
            }
            runCount += 1
            kept = 0
            run = nil
        }
        /// The frame's index in the patched list's frame table, adding it (and a delta frame's bases) to the
        /// patch's frames when the base list does not have it.
        func mergedIndex(_ frame: SegmentList.Frame) -> Int {
            if let known = baseFrames[frame] { return known }
            if let known = frameIndex[frame] { return base.frames.count + known }
            for b in frame.bases { _ = mergedIndex(b) }
            if packIndex[frame.pack] == nil {
                packIndex[frame.pack] = packs.count
                packs.append(frame.pack)
            }
            frameIndex[frame] = frames.count
            frames.append(frame)
            return base.frames.count + frames.count - 1
        }
        func add(_ s: SegmentList.Segment) -> Bool {
            var merged = s
            merged.frame = mergedIndex(next.frames[s.frame])
            run = run ?? (0, [])
            run!.entries.append(merged)
            added += 1
            return added <= limit
        }
        func remove() { run = run ?? (0, []); run!.removed += 1 }

        var a = try old.next()
        var b = try next.next()
        while a != nil || b != nil {
            if let x = a, let y = b, x.lastKey == y.lastKey {
                if base.frames[x.frame] == next.frames[y.frame] && x.offset == y.offset && x.bytes == y.bytes && x.rows == y.rows
                    && x.hash == y.hash
                {
                    close()
                    kept += 1
                } else {
                    remove()
                    guard add(y) else { return nil }
                }
                a = try old.next()
                b = try next.next()
            } else if let x = a, b == nil || x.lastKey < b!.lastKey {
                remove()
                a = try old.next()
            } else {
                guard add(b!) else { return nil }
                b = try next.next()
            }
        }
        close()

        let withBases = frames.contains { !$0.bases.isEmpty }
        var out = withBases ? magicWithDeltas : magic
        out += SegmentListBuilder.bytes(hex: baseSHA256)
        Varint.append(UInt64(base.segmentCount), to: &out)
        FrameTable.write(
            packs: packs, packIndex: packIndex, frames: frames, withBases: withBases,
            index: { baseFrames[$0] ?? base.frames.count + frameIndex[$0]! }, to: &out)
        Varint.append(UInt64(next.segmentCount), to: &out)
        Varint.append(UInt64(runCount), to: &out)
        return out + runs
    }
}

extension SegmentListPatch {
    /// The piece that stores a table's new list (`list`, a full list's bytes): a patch against the base of the
    /// table's previous list (`previous`, named `previousSHA256`: itself when it is full), or the full list when
    /// it is stored whole already, there is no previous list, its base cannot be read, or the patch would be too
    /// large. `bytes` is nil when the piece is in the store already. The base is already durable: the previous
    /// snapshot uses it.
    /// `deltaFrames` is whether the piece, or the base it is read with, has delta frames.
    package static func piece(
        for list: [UInt8], previous: SegmentList?, previousSHA256: String?,
        in store: PieceStore
    ) -> (bytes: [UInt8]?, sha256: String, base: String?, deltaFrames: Bool) {
        // The same list stored whole already (an unchanged table whose rows were read again): nothing to write.
        // The previous snapshot's own list is there without asking (the writer holds the lock: no prune runs),
        // which spares a bucket a HEAD per unchanged table.
        let sha256 = store.storage.contentAddress(list)
        let listHasDeltas = list.starts(with: SegmentList.magicWithDeltas)
        if let previous, previous.base == nil, sha256 == previousSHA256 { return (nil, sha256, nil, listHasDeltas) }
        if (try? store.hasList(sha256)) == true { return (nil, sha256, nil, listHasDeltas) }
        if let previous, let previousSHA256 {
            let baseSHA256 = previous.base ?? previousSHA256
            do {
                let base = previous.base == nil ? previous : try store.readList(baseSHA256)
                if let patch = try make(base: base, baseSHA256: baseSHA256, new: list) {
                    let patchSHA256 = store.storage.contentAddress(patch)
                    let exists = (try? store.hasList(patchSHA256)) == true
                    return (exists ? nil : patch, patchSHA256, baseSHA256, listHasDeltas || base.hasDeltaFrames)
                }
            } catch {
                Diagnostics.warn(
                    "piece \(SegmentFormat.listPath(baseSHA256)) cannot be read (\(error)); a full segment list is stored instead of a patch"
                )
            }
        }
        return (list, sha256, nil, listHasDeltas)
    }
}
