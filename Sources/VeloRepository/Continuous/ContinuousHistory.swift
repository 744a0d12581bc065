import Foundation
import VeloFormat
import VeloStorage

/// What a repository's continuous capture holds of one source, read from its batches' headers: chains (a base
/// and the frames that follow it without a hole), the gaps between them, and so the moments a restore can reach.
/// Litestream's restore plan, with every gap named instead of papered over.
public struct ContinuousHistory: Sendable {
    /// A base and the frames after it, each continuing the one before.
    public struct Chain: Sendable {
        /// The batch that recorded the base, and the base.
        public var baseBatch: StoredName
        public var base: CaptureBase
        /// The batches' frames, in order.
        public var segments: [(batch: StoredName, frames: CapturedFrames)]
        /// The first restorable moment (ms): when the base and the log frames read with it were captured.
        public var start: Int64
        /// The last (ms): every commit up to then is in the chain.
        public var end: Int64
        /// Where reading the source's log carries on after the chain.
        package var position: WALPosition?
    }

    public let source: String
    public private(set) var chains: [Chain] = []
    /// Every gap, in order: recorded by capture, or found here when a batch's frames do not continue its chain.
    public private(set) var gaps: [CaptureGap] = []
    /// How many batches hold something of the source.
    public private(set) var batches = 0

    /// The history of `source` (an absolute path) in `storage`, nil when nothing of it was ever captured.
    /// - Throws: `.damaged` naming a batch that cannot be read.
    public static func load(source: String, storage: any RepositoryStorage) throws -> ContinuousHistory? {
        try loadAll(storage: storage, only: source)[source]
    }

    /// The history of every source captured in `storage` (of `only` when given), by source.
    public static func loadAll(storage: any RepositoryStorage, only: String? = nil) throws -> [String: ContinuousHistory] {
        var names: [StoredName] = []
        try storage.list(.capture) { name, _ in if name.name.hasSuffix(".batch") { names.append(name) } }
        names.sort { $0.name < $1.name }
        var histories: [String: ContinuousHistory] = [:]
        for name in names {
            let batch = try CaptureObjectReader(name, storage: storage).batchHeader()
            for section in batch.sources where only == nil || section.source == only {
                histories[section.source, default: ContinuousHistory(source: section.source)].add(section, batch: name)
            }
        }
        return histories
    }

    package init(source: String) { self.source = source }

    /// Takes one batch's section of the source into the history.
    package mutating func add(_ section: CapturedSource, batch: StoredName) {
        batches += 1
        if let base = section.base {
            if isBroken, let last = gaps.indices.last, gaps[last].to == .max {
                // The chain broke before capture noticed: the gap runs from where it was whole to the new base.
                gaps[last].to = section.through
                if let gap = section.gap { gaps[last].reason += "; then " + gap.reason }
            } else if let gap = section.gap {
                gaps.append(gap)
            }
            isBroken = false
            let start = base.time ?? section.through
            chains.append(
                Chain(
                    baseBatch: batch, base: base, segments: [], start: start, end: max(start, section.through), position: base.position))
        } else if let gap = section.gap {
            gaps.append(gap)
        }
        guard var chain = chains.last, !isBroken else { return }
        if let frames = section.frames {
            guard continues(chain, with: frames) else {
                // The frames do not follow the chain's last ones: the chain ends where it was whole.
                isBroken = true
                gaps.append(
                    CaptureGap(from: chain.end, to: Int64.max, reason: "the captures in \(batch.name) do not continue the ones before"))
                return
            }
            chain.segments.append((batch, frames))
            chain.position = frames.position
        }
        chain.end = max(chain.end, section.through)
        chains[chains.count - 1] = chain
    }

    /// Set when the last chain's frames stopped continuing, until the next base.
    private var isBroken = false

    /// True when `frames` carry on exactly where `chain` stands.
    func continues(_ chain: Chain, with frames: CapturedFrames) -> Bool {
        guard let position = chain.position else { return frames.first == 1 }
        let generation = WALGeneration(position)
        if frames.generation == generation { return frames.first == position.frames + 1 }
        return generation.isFollowed(by: frames.generation) && frames.first == 1
    }

    /// True when `time` (ms) is before the first restorable moment: snapshots, not capture, answer for it.
    public func startsAfter(_ time: Int64) -> Bool { chains.first.map { time < $0.start } ?? true }

    /// The restorable spans, oldest first (ms): each chain's, less the gaps recorded inside it (velo stopped
    /// while the log kept every commit: the chain goes on, but when those commits were made is unknown).
    public var windows: [ClosedRange<Int64>] {
        var spans: [ClosedRange<Int64>] = []
        for chain in chains {
            var start = chain.start
            for gap in gaps where (gap.from ?? .min) >= chain.start && gap.to <= chain.end && gap.from != nil {
                if gap.from! >= start { spans.append(start...gap.from!) }
                start = max(start, gap.to)
            }
            if start <= chain.end { spans.append(start...chain.end) }
        }
        return spans
    }

    /// Where capture of the source stands: the newest chain's end and log position.
    package var tail: CaptureTail? {
        guard let last = chains.last, !isBroken else { return nil }
        return CaptureTail(through: last.end, position: last.position, chainStart: last.start)
    }

    /// The chain that restores the source as of `time` (ms), and within it the frames to apply: every commit seen
    /// at or before `time`.
    /// - Throws: `PointInTimeError` when `time` is outside every chain, naming the nearest restorable moments.
    public func plan(at time: Int64) throws -> ContinuousRestorePlan {
        if let chain = chains.last(where: { $0.start <= time && time <= $0.end }), windows.contains(where: { $0.contains(time) }) {
            var segments: [(batch: StoredName, frames: CapturedFrames, through: Int)] = []
            var lastCommit: CapturedCommit?
            for segment in chain.segments {
                guard let index = segment.frames.commits.lastIndex(where: { $0.seen <= time }) else { break }
                let commit = segment.frames.commits[index]
                segments.append((segment.batch, segment.frames, commit.frame))
                lastCommit = commit
                if index < segment.frames.commits.count - 1 { break }
            }
            return ContinuousRestorePlan(source: source, time: time, chain: chain, segments: segments, lastCommit: lastCommit)
        }
        let before = windows.last { $0.upperBound < time }.map(\.upperBound)
        let after = windows.first { $0.lowerBound > time }.map(\.lowerBound)
        throw PointInTimeError.outsideWindow(
            source: source, time: time, before: before, after: after,
            gap: gaps.last { gap in
                (gap.from ?? .min) < time && time < gap.to
            })
    }
}

/// Where capture of a source stands in a repository: what a restarted `velo replicate` carries on from.
package struct CaptureTail: Sendable {
    /// Every commit up to this moment (ms) is stored.
    package var through: Int64
    /// The log position after the last stored frame, nil when the chain's base had no log.
    package var position: WALPosition?
    /// When the newest chain started (ms): a new base is made once it is `baseEvery` old.
    package var chainStart: Int64
}

/// What a restore from continuous capture reads: a chain's base and, of its frames, those up to the last commit
/// seen at or before the time asked for.
public struct ContinuousRestorePlan: Sendable {
    public var source: String
    /// The moment asked for (ms).
    public var time: Int64
    public var chain: ContinuousHistory.Chain
    /// The batches to read and, in each, the last frame to apply.
    public var segments: [(batch: StoredName, frames: CapturedFrames, through: Int)]
    /// The last commit applied, nil when the base alone is the answer.
    public var lastCommit: CapturedCommit?

    /// The objects a restore reads: the base and the batches.
    public var objectCount: Int { 1 + segments.count }
}

/// A moment continuous capture cannot restore.
public enum PointInTimeError: VeloFailure, Equatable {
    /// `time` is before, between or after the restorable spans; `before` and `after` are the nearest restorable
    /// moments on each side (ms), `gap` the recorded gap it falls in.
    case outsideWindow(source: String, time: Int64, before: Int64?, after: Int64?, gap: CaptureGap?)

    public var kind: ErrorKind { .input }

    public var description: String {
        switch self {
        case .outsideWindow(let source, let time, let before, let after, let gap):
            let at = Self.format(time)
            switch (before, after) {
            case (nil, let after?):
                return "\(source): \(at) is before continuous capture of it starts (\(Self.format(after)))"
            case (let before?, nil):
                return "\(source): \(at) is after the newest capture of it (\(Self.format(before))): nothing later is stored"
            case (let before?, let after?):
                let why = gap.map { " (\($0.reason))" } ?? ""
                return
                    "\(source): \(at) falls in a gap of continuous capture\(why): the nearest restorable moments are \(Self.format(before)) and \(Self.format(after))"
            case (nil, nil):
                return "\(source): nothing of it is restorable from continuous capture"
            }
        }
    }

    /// `2026-12-06T10:58:30.250Z`.
    public static func format(_ ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let stamp = Timestamp.iso8601(seconds)
        return String(stamp.dropLast()) + String(format: ".%03dZ", Int(ms - seconds * 1000))
    }
}
