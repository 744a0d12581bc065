import Foundation
import VeloFormat
import VeloStorage

/// A compaction of continuous capture, so a restore reads a handful of objects instead of one batch per second
/// (Litestream's levels, with every commit kept restorable). Two levels, each one object per span for every
/// source, so compaction adds a few requests an hour however many tenants:
///
/// - **Level 1** (a minute by default): the batches written in the span, merged. Per source, their sections as
///   they were (bases, gaps, every commit's frames, so any moment in the span restores exactly), and in every
///   tenth pack of a level-2 span an *image*: each page changed since the level's anchor (the chain's newest
///   level-2 image, else its base), once, as of the span's last commit.
/// - **Level 2** (an hour by default): per chain, an image of each page changed since the base, as of the last
///   level-1 image of the span.
///
/// A restore to a moment reads the base, the newest level-2 image before it, the newest level-1 image anchored
/// there before it, and the frames after that up to the moment: at most thirteen objects for any moment whose
/// span is compacted, plus the batches of the newest span, not compacted yet.
///
/// Stored as `continuous/<ms13>-L<level>.pack` (the span's start): a zstd skippable frame holding the length of
/// the header's frame, the header's frame (the magic `VELOPAK1`, a 4-byte big-endian length, this type as JSON),
/// then each source's bodies as zstd frames of their own, whose compressed ranges the header gives: a restore of
/// one tenant reads its ranges only. Records in bodies are a batch's: a 4-byte big-endian page number and the page.
public struct CapturePack: Codable, Sendable, Equatable {
    public static let magic = Array("VELOPAK1".utf8)
    public static let formatVersion = 1

    public var format: Int
    /// 1 (batches merged, with images since the level-2 anchor) or 2 (images since the base).
    public var level: Int
    /// The span (ms): level 1 holds batches written before `end` (from `start`, and any written earlier that no
    /// pack held yet); level 2 the level-1 images of packs that start in it.
    public var start: Int64
    public var end: Int64
    /// The batches level 1 holds, by name: they are removed a while after the pack is stored.
    public var batches: [String]
    public var sources: [PackedSource]

    public init(level: Int, start: Int64, end: Int64, batches: [String], sources: [PackedSource]) {
        format = Self.formatVersion
        self.level = level
        self.start = start
        self.end = end
        self.batches = batches
        self.sources = sources
    }

    public var storedName: StoredName { Self.name(level: level, start: start) }

    public static func name(level: Int, start: Int64) -> StoredName {
        StoredName(.capture, String(format: "%013lld-L%d.pack", start, level))
    }

    /// The level of a pack's name, nil for another object.
    public static func level(of name: StoredName) -> Int? {
        guard name.kind == .capture, name.name.hasSuffix(".pack"), let l = name.name.dropLast(5).last else { return nil }
        return Int(String(l))
    }
}

/// What a pack holds of one source.
public struct PackedSource: Codable, Sendable, Equatable {
    public var source: String
    /// Level 1: the sections of the batches it holds, in order, as they were stored; their frames' offsets count
    /// from the start of `body` (decompressed).
    public var sections: [CapturedSource]
    /// Where the sections' frames are in the pack (nil when none has frames).
    public var body: PackRange?
    /// The image of the source's newest chain, nil when the span changed nothing of it or the chain broke.
    public var image: CaptureImage?

    public init(source: String, sections: [CapturedSource], body: PackRange?, image: CaptureImage?) {
        self.source = source
        self.sections = sections
        self.body = body
        self.image = image
    }
}

/// A compressed range of a pack: `offset` bytes after the header's frame, `bytes` long.
public struct PackRange: Codable, Sendable, Equatable {
    public var offset: Int64
    public var bytes: Int64

    public init(offset: Int64, bytes: Int64) {
        self.offset = offset
        self.bytes = bytes
    }
}

/// Every page of a chain changed between an anchor and a commit, once, in page order, as of that commit: written
/// over the anchor's state, the database as it was after the commit.
public struct CaptureImage: Codable, Sendable, Equatable {
    /// The chain's base object.
    public var chain: String
    /// What the pages changed since: a level-2 pack's image of the chain (the pack's name), or the base (nil).
    public var anchor: String?
    public var pageSize: Int
    /// How many pages (records in `range`).
    public var count: Int
    public var range: PackRange
    /// The commit it is the state after: its frame's log position, when velo saw it (ms), and the database's
    /// size in pages after it.
    public var generation: WALGeneration
    public var frame: Int
    public var checksum: WALChecksum
    public var bigEndianChecksums: Bool
    public var seen: Int64
    public var pages: UInt32

    package init(
        chain: String, anchor: String?, pageSize: Int, count: Int, range: PackRange, after position: WALPosition, seen: Int64, pages: UInt32
    ) {
        self.chain = chain
        self.anchor = anchor
        self.pageSize = pageSize
        self.count = count
        self.range = range
        generation = WALGeneration(position)
        frame = position.frames
        checksum = position.checksum
        bigEndianChecksums = position.bigEndianChecksums
        self.seen = seen
        self.pages = pages
    }

    /// The log position after the commit.
    package var position: WALPosition {
        WALPosition(generation: generation, pageSize: pageSize, bigEndianChecksums: bigEndianChecksums, frames: frame, checksum: checksum)
    }
}
