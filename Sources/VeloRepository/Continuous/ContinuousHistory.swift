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
        /// The frames after the base, in order, wherever they are stored (batches, level-1 packs).
        public var segments: [Segment]
        /// The chain's images in packs, oldest first: what lets a restore skip most frames.
        public var images: [PackedImage] = []
        /// The first restorable moment (ms): when the base and the log frames read with it were captured.
        public var start: Int64
        /// The last (ms): every commit up to then is in the chain.
        public var end: Int64
        /// Where reading the source's log carries on after the chain.
        package var position: WALPosition?
        /// What a graceful stop recorded of the database at the chain's end, when its last section has it.
        package var stopped: CaptureStop?
    }

    /// Consecutive frames of a chain, and where they are stored.
    public struct Segment: Sendable {
        /// A batch, or a level-1 pack holding it.
        public var object: StoredName
        /// In a pack: where its bodies start, and the range of this source's frames (whose offsets count from it).
        public var bodies: Int64?
        public var body: PackRange?
        public var frames: CapturedFrames

        /// The batch `batch`'s frames `frames`.
        public init(batch: StoredName, frames: CapturedFrames) {
            object = batch
            self.frames = frames
        }

        package init(object: StoredName, bodies: Int64?, body: PackRange?, frames: CapturedFrames) {
            self.object = object
            self.bodies = bodies
            self.body = body
            self.frames = frames
        }

        /// True when the segment's last frame is the commit `image` stands after.
        package func ends(at image: CaptureImage) -> Bool {
            frames.generation == image.generation && frames.last == image.frame
        }
    }

    /// An image of a chain in a pack.
    public struct PackedImage: Sendable {
        public var pack: StoredName
        public var level: Int
        /// Where the pack's bodies start (the image's range counts from it).
        public var bodies: Int64
        public var image: CaptureImage
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
        try loadAll(storage: storage, only: only, cache: nil)
    }

    /// `loadAll`, taking each object's header from `cache` when it holds it (objects never change once stored) and
    /// leaving there every header read: a long-running process reads each header once.
    package static func loadAll(
        storage: any RepositoryStorage, only: String? = nil, cache: CaptureHeaders?
    ) throws -> [String: ContinuousHistory] {
        try inventory(storage: storage, only: only, cache: cache).histories
    }

    /// Every capture object of a repository, read: what compaction and retention work from.
    package struct Inventory {
        /// By source.
        package var histories: [String: ContinuousHistory] = [:]
        /// Every pack, oldest first, with where its bodies start.
        package var packs: [(name: StoredName, pack: CapturePack, bodies: Int64)] = []
        /// The batches no level-1 pack holds, oldest first.
        package var loose: [StoredName] = []
        /// Every capture object listed, with its size.
        package var names: [StoredName] = []
        package var sizes: [StoredName: Int64] = [:]
    }

    /// Lists the capture objects of `storage` and reads their headers (from `cache` when it holds them).
    /// - Parameter looseBefore: when given, the histories take in only the batches no pack holds written before
    ///   this moment (ms): the history as a pack of them will have it.
    /// - Parameter listed: the objects a listing just made found, with their sizes: not listed again.
    package static func inventory(
        storage: any RepositoryStorage, only: String? = nil, cache: CaptureHeaders? = nil, looseBefore: Int64? = nil,
        listed: [StoredName: Int64]? = nil
    ) throws -> Inventory {
        var inventory = Inventory()
        if let listed {
            inventory.sizes = listed
            inventory.names = Array(listed.keys)
        } else {
            try storage.list(.capture) { name, info in
                inventory.names.append(name)
                inventory.sizes[name] = info.size
            }
        }
        inventory.names.sort { $0.name < $1.name }
        let headers = cache ?? CaptureHeaders(for: storage)
        headers.forget(except: Set(inventory.names))
        for name in inventory.names where name.name.hasSuffix(".pack") {
            let (pack, bodies) = try headers.pack(name, storage: storage, size: inventory.sizes[name])
            inventory.packs.append((name, pack, bodies))
        }
        let held = Set(inventory.packs.filter { $0.pack.level == 1 }.flatMap(\.pack.batches))
        inventory.loose = inventory.names.filter { $0.name.hasSuffix(".batch") && !held.contains($0.name) }
        // Level-1 packs and the batches none holds, in time order (a pack before a batch of the same moment: a
        // batch no pack holds is one stored after the pack was made).
        var order: [(time: Int64, pack: Int?, name: StoredName)] = []
        for (i, entry) in inventory.packs.enumerated() where entry.pack.level == 1 { order.append((entry.pack.start, i, entry.name)) }
        for name in inventory.loose {
            let time = CaptureBatch.writtenTime(of: name) ?? 0
            if let looseBefore, time >= looseBefore { continue }
            order.append((time, nil, name))
        }
        order.sort { ($0.time, $0.pack == nil ? 1 : 0, $0.name.name) < ($1.time, $1.pack == nil ? 1 : 0, $1.name.name) }
        var histories: [String: ContinuousHistory] = [:]
        for entry in order {
            if let i = entry.pack {
                let (name, pack, bodies) = inventory.packs[i]
                for packed in pack.sources where only == nil || packed.source == only {
                    for section in packed.sections {
                        histories[packed.source, default: ContinuousHistory(source: packed.source)].add(
                            section, object: name, bodies: bodies, body: packed.body)
                    }
                }
            } else {
                let batch = try headers.batch(entry.name, storage: storage, size: inventory.sizes[entry.name])
                for section in batch.sources where only == nil || section.source == only {
                    histories[section.source, default: ContinuousHistory(source: section.source)].add(section, batch: entry.name)
                }
            }
        }
        for (name, pack, bodies) in inventory.packs {
            for packed in pack.sources where only == nil || packed.source == only {
                guard let image = packed.image else { continue }
                histories[packed.source]?.attach(PackedImage(pack: name, level: pack.level, bodies: bodies, image: image))
            }
        }
        inventory.histories = histories
        return inventory
    }

    /// A reader of the object holding `segment`, standing at the start of the body its frames' offset counts
    /// from: after a batch's header, or at a pack's range.
    package static func reader(of segment: Segment, storage: any RepositoryStorage) throws -> CaptureObjectReader {
        if let bodies = segment.bodies, let body = segment.body {
            return try CaptureObjectReader(segment.object, storage: storage, bodies: bodies, range: body)
        }
        let reader = try CaptureObjectReader(segment.object, storage: storage)
        _ = try reader.batchHeader()
        reader.resetConsumed()
        return reader
    }

    /// False when the newest chain's frames stopped continuing (until a new base).
    package var isWhole: Bool { !isBroken }

    /// Adds a pack's image to the chain it belongs to (by base), in order of the commit it stands at.
    package mutating func attach(_ image: PackedImage) {
        guard let i = chains.firstIndex(where: { $0.base.object == image.image.chain }) else { return }
        chains[i].images.append(image)
        chains[i].images.sort { ($0.image.seen, $0.level) < ($1.image.seen, $1.level) }
    }

    package init(source: String) { self.source = source }

    /// Takes one batch's section of the source into the history.
    package mutating func add(_ section: CapturedSource, batch: StoredName) {
        add(section, object: batch, bodies: nil, body: nil)
    }

    /// Takes one section into the history: a batch's (`bodies` nil), or one a level-1 pack holds.
    package mutating func add(_ section: CapturedSource, object batch: StoredName, bodies: Int64?, body: PackRange?) {
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
            chain.segments.append(Segment(object: batch, bodies: bodies, body: body, frames: frames))
            chain.position = frames.position
        }
        chain.end = max(chain.end, section.through)
        chain.stopped = section.stopped  // only the last section's says where the chain ended
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
        return CaptureTail(
            through: last.end, position: last.position, chainStart: last.start, base: last.segments.isEmpty ? last.base : nil,
            stopped: last.stopped?.through == last.end ? last.stopped : nil)
    }

    /// The chain that restores the source as of `time` (ms), and within it the frames to apply: every commit seen
    /// at or before `time`.
    /// - Throws: `PointInTimeError` when `time` is outside every chain, naming the nearest restorable moments.
    public func plan(at time: Int64) throws -> ContinuousRestorePlan {
        if let chain = chains.last(where: { $0.start <= time && time <= $0.end }), windows.contains(where: { $0.contains(time) }) {
            let (images, next) = Self.images(of: chain, at: time)
            var segments: [ContinuousRestorePlan.Part] = []
            var lastCommit: CapturedCommit?
            for segment in chain.segments[next...] {
                guard let index = segment.frames.commits.lastIndex(where: { $0.seen <= time }) else { break }
                let commit = segment.frames.commits[index]
                segments.append(ContinuousRestorePlan.Part(segment: segment, through: commit.frame))
                lastCommit = commit
                if index < segment.frames.commits.count - 1 { break }
            }
            return ContinuousRestorePlan(
                source: source, time: time, chain: chain, images: images, segments: segments, lastCommit: lastCommit)
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

extension ContinuousHistory {
    /// The images that bring `chain`'s base furthest without passing `time`: a level-2 image, a level-1 image
    /// anchored at it (or at the base), or both; and the index of the first segment after them. An image is used
    /// only where it ends exactly at a segment's end, so the frames after it carry on from it.
    static func images(of chain: Chain, at time: Int64) -> (images: [PackedImage], next: Int) {
        func after(_ image: PackedImage) -> Int? { chain.segments.firstIndex { $0.ends(at: image.image) }.map { $0 + 1 } }
        var best: (images: [PackedImage], next: Int, seen: Int64) = ([], 0, .min)
        for image in chain.images where image.image.seen <= time {
            guard let next = after(image) else { continue }
            var path = [image]
            if image.level == 1, let anchor = image.image.anchor {
                guard let top = chain.images.first(where: { $0.level == 2 && $0.pack.name == anchor }) else { continue }
                path.insert(top, at: 0)
            }
            if image.image.seen > best.seen || (image.image.seen == best.seen && path.count < best.images.count) {
                best = (path, next, image.image.seen)
            }
        }
        return (best.images, best.next)
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
    /// The newest chain's base when nothing was read after it: the chain then stands exactly at the base's
    /// bytes, so a restart that finds the database file the same knows nothing was committed meanwhile, even
    /// when the log it would resume from is gone.
    package var base: CaptureBase?
    /// The database at `through`, when a graceful stop recorded it: a restart that finds the log gone and the file
    /// the same knows nothing was committed meanwhile.
    package var stopped: CaptureStop?
}

/// What a restore from continuous capture reads: a chain's base, the images that bring it furthest without
/// passing the time asked for, and of the frames after them those up to the last commit seen at or before it.
public struct ContinuousRestorePlan: Sendable {
    /// A segment to read and its last frame to apply.
    public struct Part: Sendable {
        public var segment: ContinuousHistory.Segment
        public var through: Int
    }

    public var source: String
    /// The moment asked for (ms).
    public var time: Int64
    public var chain: ContinuousHistory.Chain
    /// The images to write over the base, in order.
    public var images: [ContinuousHistory.PackedImage]
    /// The frames to write after them.
    public var segments: [Part]
    /// The last commit applied from frames, nil when the base or the last image is the answer.
    public var lastCommit: CapturedCommit?

    /// The database's size after the restore (bytes).
    public var bytes: Int64 {
        let pageSize = Int64(chain.base.pageSize)
        if let lastCommit { return Int64(lastCommit.pages) * pageSize }
        if let image = images.last { return Int64(image.image.pages) * pageSize }
        return chain.base.bytes
    }

    /// The objects a restore reads: the base, the images' packs and the objects holding the frames.
    public var objectCount: Int {
        1 + Set(images.map(\.pack.name) + segments.map(\.segment.object.name)).count
    }
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
