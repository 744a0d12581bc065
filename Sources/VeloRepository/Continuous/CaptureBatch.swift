import Foundation
import VeloFormat
import VeloStorage

/// One interval's worth of continuous capture from one `velo replicate` process: for every source it watches,
/// the transactions committed since the previous batch (the pages of their WAL frames), a base copy when one
/// was taken, and a gap when capture lost its place. One object per interval however many sources, so the
/// requests an hour do not grow with the tenants (Litestream writes one per database).
///
/// Stored as `continuous/<ms13>-<stream16>-<seq10>.batch` (written time in milliseconds, the process's random
/// stream id, its batch number): one zstd stream of the magic `VELOCAP1`, a 4-byte big-endian header length,
/// the header (JSON, this type), then the frames of every source back to back, each a 4-byte big-endian page
/// number and the page. docs/FORMAT.md, "Continuous capture", is the reference.
public struct CaptureBatch: Codable, Sendable, Equatable {
    public static let magic = Array("VELOCAP1".utf8)
    public static let formatVersion = 1

    public var format: Int
    /// The writing process's id: 16 hex digits drawn at its start.
    public var stream: String
    /// The batch's number in its stream, from 1: a stream's batches continue each other.
    public var sequence: Int
    /// When the batch was written (ms since the epoch).
    public var written: Int64
    public var sources: [CapturedSource]

    public init(stream: String, sequence: Int, written: Int64, sources: [CapturedSource]) {
        format = Self.formatVersion
        self.stream = stream
        self.sequence = sequence
        self.written = written
        self.sources = sources
    }

    /// The object's name.
    public var storedName: StoredName { Self.name(written: written, stream: stream, sequence: sequence) }

    public static func name(written: Int64, stream: String, sequence: Int) -> StoredName {
        StoredName(.capture, String(format: "%013lld-%@-%010d.batch", written, stream, sequence))
    }

    /// The time a capture object's name starts with (ms), nil for another name.
    public static func writtenTime(of name: StoredName) -> Int64? {
        guard name.kind == .capture else { return nil }
        return Int64(name.name.prefix(13))
    }
}

/// What one batch holds of one source.
public struct CapturedSource: Codable, Sendable, Equatable {
    /// The database's absolute path, as snapshots name their source.
    public var source: String
    /// Every commit of the source that velo saw up to this time (ms) is in this batch or an earlier one: the end
    /// of the restorable window while the source is idle.
    public var through: Int64
    /// Set when capture could not carry on from its last position: the span no commit is known of.
    public var gap: CaptureGap?
    /// Set when a new chain starts here: the base copy the frames after it apply to.
    public var base: CaptureBase?
    /// The commits read from the source's log since the previous batch.
    public var frames: CapturedFrames?
    /// Set on the source's section of the last batch a graceful stop stores: the database as it was at `through`.
    public var stopped: CaptureStop?

    public init(
        source: String, through: Int64, gap: CaptureGap? = nil, base: CaptureBase? = nil, frames: CapturedFrames? = nil,
        stopped: CaptureStop? = nil
    ) {
        self.source = source
        self.through = through
        self.gap = gap
        self.base = base
        self.frames = frames
        self.stopped = stopped
    }
}

/// The database exactly as of the last commit a stopping `velo replicate` read (its file with the log's frames up
/// to there written over it), by size and SHA-256. A restart that finds the log gone (the last connection to close
/// checkpoints it into the file and deletes it) compares the file with it: the same bytes mean nothing was
/// committed while velo was stopped, so the next chain starts where this one ends, without a gap. A killed
/// `velo replicate` records none, and the same restart is a gap.
public struct CaptureStop: Codable, Sendable, Equatable {
    /// The moment (ms) it is the database of: its section's `through`.
    public var through: Int64
    public var bytes: Int64
    public var sha256: String

    public init(through: Int64, bytes: Int64, sha256: String) {
        self.through = through
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// A span of a source's history that capture did not see: velo was stopped, or the log was started over before
/// velo read it (an external TRUNCATE checkpoint). Restores inside it are refused.
public struct CaptureGap: Codable, Sendable, Equatable {
    /// The last moment (ms) known captured before the gap, nil when capture of the source starts here.
    public var from: Int64?
    /// The first moment (ms) restorable after it: the new base's.
    public var to: Int64
    public var reason: String

    public init(from: Int64?, to: Int64, reason: String) {
        self.from = from
        self.to = to
        self.reason = reason
    }
}

/// A copy of a source's database file taken while velo held a read transaction open on it, so no checkpoint
/// could write beyond the log frames velo goes on to read: the file plus the log's frames of `position`'s
/// generation from frame 1 make the database exact.
public struct CaptureBase: Codable, Sendable, Equatable {
    /// The base object (`<ms13>-<stream16>-<source16>.base`, a zstd stream of the file).
    public var object: String
    public var pageSize: Int
    /// The file's size.
    public var bytes: Int64
    /// SHA-256 of the file.
    public var sha256: String
    /// The log generation whose frames (from frame 1) apply to it; nil when there was no log then (the first
    /// generation written after it applies).
    public var generation: WALGeneration?
    /// The generation's header checksum and byte order, where reading its frames starts (with `generation`).
    public var checksum: WALChecksum?
    public var bigEndianChecksums: Bool?
    /// Set on a base velo made while capture went on (a new chain without a gap): the file is then the
    /// database exactly as after frame `frames` of `generation`, and the chain goes on from the next frame.
    /// Absent on a base copied as it was found, to which the generation's frames apply from frame 1.
    public var frames: Int?
    /// On a made base: the moment (ms) it is the database of, the last read before it was made; its chain
    /// starts there, where the one before ends. A copied base's chain starts at its section's `through`.
    public var time: Int64?

    package init(object: String, pageSize: Int, bytes: Int64, sha256: String, log: WALPosition?, time: Int64? = nil) {
        self.object = object
        self.pageSize = pageSize
        self.bytes = bytes
        self.sha256 = sha256
        generation = log.map(WALGeneration.init)
        checksum = log?.checksum
        bigEndianChecksums = log?.bigEndianChecksums
        frames = (log?.frames ?? 0) > 0 ? log?.frames : nil
        self.time = time
    }

    /// The log position the base stands at: frame 0 of its generation for a copy as found (else the frame it
    /// was made at), nil when there was no log.
    package var position: WALPosition? {
        guard let generation, let checksum, let bigEndianChecksums else { return nil }
        return WALPosition(
            generation: generation, pageSize: pageSize, bigEndianChecksums: bigEndianChecksums, frames: frames ?? 0, checksum: checksum)
    }
}

/// A generation of a write-ahead log: it starts over with the next checkpoint sequence and salt-1 one more.
public struct WALGeneration: Codable, Sendable, Equatable {
    public var checkpointSequence: UInt32
    public var salt1: UInt32
    public var salt2: UInt32

    public init(checkpointSequence: UInt32, salt1: UInt32, salt2: UInt32) {
        self.checkpointSequence = checkpointSequence
        self.salt1 = salt1
        self.salt2 = salt2
    }

    package init(_ position: WALPosition) {
        self.init(checkpointSequence: position.checkpointSequence, salt1: position.salt1, salt2: position.salt2)
    }

    /// True when `next` is the generation a writer starts right after this one: salt-1 one more (the checkpoint
    /// sequence is the restarting connection's own counter, `WALPosition.isFollowed`).
    public func isFollowed(by next: WALGeneration) -> Bool {
        next.salt1 == salt1 &+ 1
    }
}

/// Consecutive committed frames of one log generation.
public struct CapturedFrames: Codable, Sendable, Equatable {
    public var generation: WALGeneration
    public var pageSize: Int
    /// The first frame's number in the generation (from 1); the frames run on from there without a hole.
    public var first: Int
    /// How many frames (the last is a commit frame).
    public var count: Int
    /// Where the frames start in the batch's body.
    public var offset: Int64
    /// The checksum after the last frame: where reading the log carries on.
    public var checksum: WALChecksum
    public var bigEndianChecksums: Bool
    /// The transactions, in order: each a commit frame's number, the database's size in pages after it, and when
    /// velo saw it (ms).
    public var commits: [CapturedCommit]

    public init(
        generation: WALGeneration, pageSize: Int, first: Int, count: Int, offset: Int64, checksum: WALChecksum,
        bigEndianChecksums: Bool, commits: [CapturedCommit]
    ) {
        self.generation = generation
        self.pageSize = pageSize
        self.first = first
        self.count = count
        self.offset = offset
        self.checksum = checksum
        self.bigEndianChecksums = bigEndianChecksums
        self.commits = commits
    }

    /// A frame's size in the body.
    public var recordSize: Int { 4 + pageSize }
    /// The last frame's number.
    public var last: Int { first + count - 1 }

    /// The log position after these frames.
    package var position: WALPosition {
        WALPosition(generation: generation, pageSize: pageSize, bigEndianChecksums: bigEndianChecksums, frames: last, checksum: checksum)
    }
}

/// One committed transaction.
public struct CapturedCommit: Codable, Sendable, Equatable {
    /// Its commit frame's number in the generation.
    public var frame: Int
    /// The database's size in pages after it.
    public var pages: UInt32
    /// When velo read it from the log (ms): the WAL holds no times, so this is within one interval of the commit.
    public var seen: Int64

    public init(frame: Int, pages: UInt32, seen: Int64) {
        self.frame = frame
        self.pages = pages
        self.seen = seen
    }
}

extension WALPosition {
    package init(generation: WALGeneration, pageSize: Int, bigEndianChecksums: Bool, frames: Int, checksum: WALChecksum) {
        self.init(
            checkpointSequence: generation.checkpointSequence, salt1: generation.salt1, salt2: generation.salt2, pageSize: pageSize,
            bigEndianChecksums: bigEndianChecksums, frames: frames, checksum: checksum)
    }
}
