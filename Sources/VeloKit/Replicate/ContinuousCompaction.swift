import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Compaction of continuous capture into packs (`CapturePack`): once a span of batches is complete, its batches
/// are merged into one level-1 pack (every tenth with every source's image since its anchor), and once a level-2 span is
/// complete, each chain's level-1 images into a level-2 image since its base. A restore then reads at most
/// thirteen objects for any compacted moment, and listing the capture of a week is tens of thousands of objects fewer.
///
/// Safe to kill at any point: a pack appears whole or not at all (the storage's create and commit), a batch is
/// removed only `Levels.keepBatches` after a pack holding it was stored (so a restore planned on the batch just
/// before still finds it), and the next run carries on from what is stored. One process compacts a repository
/// at a time (the lock `locks/compact.json`); another finding it held leaves the work to its holder.
public final class ContinuousCompaction {
    /// The spans of the levels.
    public struct Levels: Sendable, Equatable {
        /// Level 1's span: batches written in it are merged once it is over (a minute).
        public var span1: Duration = .seconds(60)
        /// Level 2's span (an hour; a whole number of level-1 spans).
        public var span2: Duration = .seconds(3600)
        /// How long after a span ends its batches are merged: a batch is named when it is written, and stored up
        /// to a slow PUT later.
        public var settle: Duration = .seconds(10)
        /// How long a merged batch is kept after its pack was stored.
        public var keepBatches: Duration = .seconds(300)

        public init() {}

        /// Level spans `first` and `second`, settling and keeping in proportion (tests use seconds).
        public init(span1: Duration, span2: Duration) {
            self.span1 = span1
            self.span2 = span2
            settle = min(.seconds(10), span1)
            keepBatches = min(.seconds(300), span1 * 5)
        }

        /// `1m,1h` (two spans, the second a whole number of the first, the first at least a second), or nil for
        /// `off`.
        /// - Throws: `.input` saying what is expected.
        public static func parse(_ text: String) throws -> Levels? {
            if text == "off" { return nil }
            let parts = text.split(separator: ",").map { Replicator.Options.duration(String($0)) }
            guard parts.count == 2, let first = parts[0], let second = parts[1] else {
                throw VeloError("\(text): expected two spans such as 1m,1h, or off")
            }
            guard first >= .seconds(1), second > first, Int64(second.inSeconds * 1000) % Int64(first.inSeconds * 1000) == 0 else {
                throw VeloError("\(text): the second span must be a whole number of the first, and the first at least 1s")
            }
            return text == "1m,1h" ? Levels() : Levels(span1: first, span2: second)
        }

        /// How many level-1 spans an image covers: six images a level-2 span (every ten minutes of an hour), each
        /// of the pages changed since the hour's start. An image in every minute would hold the hour's changes
        /// 60 times over (measured: level-1 packs six times the batches' bytes); six hold them about 3.5 times,
        /// and a restore reads at most the ten packs of frames since the last image.
        public var spansPerImage: Int { max(1, Int(span2Milliseconds / span1Milliseconds) / 6) }

        /// True when the level-1 pack of the span at `start` holds images: every `spansPerImage`-th span of a
        /// level-2 span, and its last.
        func imageDue(at start: Int64) -> Bool {
            let index = Int((start % span2Milliseconds) / span1Milliseconds) + 1
            return index % spansPerImage == 0 || index == Int(span2Milliseconds / span1Milliseconds)
        }

        var span1Milliseconds: Int64 { Int64(span1.inSeconds * 1000) }
        var span2Milliseconds: Int64 { Int64(span2.inSeconds * 1000) }
    }

    /// What one run did.
    public struct Report: Sendable, Codable, Equatable {
        public var level1Packs = 0
        public var level2Packs = 0
        public var batchesMerged = 0
        public var batchesRemoved = 0
        /// Bytes of the packs stored.
        public var bytes: Int64 = 0

        public init() {}
    }

    private let storage: any RepositoryStorage
    private let levels: Levels
    private let scratch: String
    private let headers: CaptureHeaders
    /// Level-2 spans found to have nothing to pack.
    private var level2Looked = Set<Int64>()
    /// What this round's listing found, with the packs written since.
    private var listed: [StoredName: Int64]?

    /// - Parameter scratch: a folder of this process for the bodies being written.
    public init(storage: any RepositoryStorage, levels: Levels = Levels(), scratch: String) {
        self.storage = storage
        self.levels = levels
        self.scratch = scratch
        headers = CaptureHeaders(for: storage)
    }

    /// The compaction lock, nil when another process holds it.
    public static func lock(_ repository: Repository, command: String) throws -> RepositoryLock? {
        do {
            return try RepositoryLock.acquire(
                storage: repository.storage, name: StoredName(.lock, "compact.json"), command: command, timing: repository.lockTiming)
        } catch RepositoryLock.Failure.held {
            return nil
        }
    }

    /// Merges every span complete at `now` (ms) that is not yet, and removes the batches packs have held for
    /// `keepBatches`.
    public func run(now: Int64) throws -> Report {
        var report = Report()
        defer { listed = nil }  // the next round lists again: other writers' batches
        let span1 = levels.span1Milliseconds
        let span2 = levels.span2Milliseconds
        var inventory: ContinuousHistory.Inventory
        while true {
            try Interruption.check()
            // One listing a round: each pack written is added to it rather than listed again.
            inventory = try ContinuousHistory.inventory(storage: storage, cache: headers, listed: listed)
            listed = inventory.sizes
            let level1 = Set(inventory.packs.filter { $0.pack.level == 1 }.map(\.pack.start))
            let level2 = Set(inventory.packs.filter { $0.pack.level == 2 }.map(\.pack.start))
            guard let first = inventory.loose.first.flatMap(CaptureBatch.writtenTime) else { break }
            var start = first - first % span1
            while level1.contains(start) { start += span1 }
            guard start + span1 + Int64(levels.settle.inSeconds * 1000) <= now else { break }
            // The newest complete level-2 span first: the level-1 images of this span anchor on it.
            let period = start - start % span2
            if let newest = level1.filter({ $0 < period }).max() {
                let before = newest - newest % span2
                if !level2.contains(before) && !level2Looked.contains(before) {
                    if let bytes = try writeLevel2(start: before, inventory: inventory) {
                        report.bytes += bytes
                        report.level2Packs += 1
                        listed?[CapturePack.name(level: 2, start: before)] = bytes
                    } else {
                        level2Looked.insert(before)
                    }
                    continue
                }
            }
            let batches = inventory.loose.filter { (CaptureBatch.writtenTime(of: $0) ?? 0) < start + span1 }
            let bytes = try writeLevel1(start: start, batches: batches, listed: inventory.sizes)
            report.bytes += bytes
            report.level1Packs += 1
            report.batchesMerged += batches.count
            listed?[CapturePack.name(level: 1, start: start)] = bytes
        }
        // Batches merged a while ago go.
        let present = Set(inventory.names.map(\.name))
        let keep = Int64(levels.keepBatches.inSeconds * 1000)
        for (_, pack, _) in inventory.packs where pack.level == 1 && pack.end + keep <= now {
            for batch in pack.batches where present.contains(batch) {
                try Interruption.check()
                try storage.remove(StoredName(.capture, batch))
                report.batchesRemoved += 1
                listed?.removeValue(forKey: StoredName(.capture, batch))
            }
        }
        return report
    }

    // MARK: - Level 1

    /// Merges `batches` into the level-1 pack of the span at `start`; returns its size.
    private func writeLevel1(start: Int64, batches: [StoredName], listed: [StoredName: Int64]) throws -> Int64 {
        let folder = try workFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var order: [String] = []
        var sections: [String: [CapturedSource]] = [:]
        var bodies: [String: SpoolFile] = [:]
        // The histories as they stand after the batches: the images are of the chains' state then.
        let histories = try ContinuousHistory.inventory(
            storage: storage, cache: headers, looseBefore: start + levels.span1Milliseconds, listed: listed
        ).histories
        // Each batch read once, front to back: its sections' frames go to their source's body.
        for name in batches {
            let reader = try CaptureObjectReader(name, storage: storage)
            let batch = try reader.batchHeader()
            reader.resetConsumed()
            // Sections' frames lie in the body in the sections' order.
            for var section in batch.sources {
                if sections[section.source] == nil { order.append(section.source) }
                if var frames = section.frames {
                    guard frames.offset >= reader.consumed else {
                        throw VeloError("\(reader.place): \(section.source): frames out of order in the body", kind: .damaged)
                    }
                    try reader.read(frames.offset - reader.consumed) { _ in }
                    let body = try bodies[section.source] ?? SpoolFile(folder: folder)
                    bodies[section.source] = body
                    frames.offset = body.bytes
                    try copyFrames(frames, from: reader, into: body)
                    section.frames = frames
                }
                sections[section.source, default: []].append(section)
            }
        }
        var packed: [PackedSource] = []
        var files: [String] = []
        var offset: Int64 = 0
        var keep: [SpoolFile] = []
        for source in order {
            var body: PackRange?
            if let spool = bodies[source] {
                try spool.pack()
                body = PackRange(offset: offset, bytes: spool.packedFileBytes)
                offset += spool.packedFileBytes
                files.append(spool.path)
            }
            var image: CaptureImage?
            if levels.imageDue(at: start), let history = histories[source], let (made, spool) = try level1Image(history, folder: folder) {
                image = made
                image!.range.offset = offset
                offset += made.range.bytes
                files.append(spool.path)
                keep.append(spool)
            }
            packed.append(PackedSource(source: source, sections: sections[source] ?? [], body: body, image: image))
        }
        let pack = CapturePack(level: 1, start: start, end: start + levels.span1Milliseconds, batches: batches.map(\.name), sources: packed)
        try CaptureObjects.write(pack, bodies: files, to: storage)
        return try storage.stat(pack.storedName)?.size ?? 0
    }

    /// Copies `frames` (records, `reader` standing at their start) into `body`.
    private func copyFrames(_ frames: CapturedFrames, from reader: CaptureObjectReader, into body: SpoolFile) throws {
        var record = [UInt8](repeating: 0, count: frames.recordSize)
        for _ in 0..<frames.count {
            let number = try reader.record(into: &record)
            try record.withUnsafeBytes { try body.append(page: number, UnsafeRawBufferPointer(rebasing: $0[4...])) }
        }
    }

    /// The image of `history`'s newest chain after its newest frames: the previous level-1 image of the chain
    /// (anchored where the chain's newest level-2 image, or its base, stands) with the pages of every frame
    /// after it written over; nil when the chain broke, or no frame followed the previous image.
    private func level1Image(_ history: ContinuousHistory, folder: String) throws -> (CaptureImage, SpoolFile)? {
        guard history.isWhole, let chain = history.chains.last else { return nil }
        let anchor = chain.images.last { $0.level == 2 }
        let previous = chain.images.last { $0.level == 1 && $0.image.anchor == anchor?.pack.name }
        let from = previous ?? anchor
        var next = 0
        if let from {
            guard let index = chain.segments.firstIndex(where: { $0.ends(at: from.image) }) else { return nil }
            next = index + 1
        }
        let segments = Array(chain.segments[next...])
        guard let last = segments.last, let commit = last.frames.commits.last else { return nil }
        // The newest version of every page the frames wrote, in a scratch file of one slot per page.
        let slots = try SpoolFile.Scratch(folder: folder, name: "pages")
        var slotOf: [UInt32: Int64] = [:]
        let pageSize = chain.base.pageSize
        for segment in segments {
            let reader = try ContinuousHistory.reader(of: segment, storage: storage)
            try reader.read(segment.frames.offset) { _ in }
            var record = [UInt8](repeating: 0, count: segment.frames.recordSize)
            for _ in 0..<segment.frames.count {
                let number = try reader.record(into: &record)
                let slot = slotOf[number] ?? Int64(slotOf.count)
                slotOf[number] = slot
                try record.withUnsafeBytes { try slots.write(UnsafeRawBufferPointer(rebasing: $0[4...]), at: slot * Int64(pageSize)) }
            }
        }
        let newer = PageRecords.sorted(slotOf, in: slots, pageSize: pageSize)
        let older = try previous.map { try PageRecords.image($0, storage: storage) }
        let spool = try SpoolFile(folder: folder)
        let count = try PageRecords.merge(older: older, newer: newer, upTo: commit.pages, into: spool)
        try spool.pack()
        let image = CaptureImage(
            chain: chain.base.object, anchor: anchor?.pack.name, pageSize: pageSize, count: count,
            range: PackRange(offset: 0, bytes: spool.packedFileBytes), after: last.frames.position, seen: commit.seen, pages: commit.pages)
        return (image, spool)
    }

    // MARK: - Level 2

    /// Writes the level-2 pack of the span at `start`: for each chain with a level-1 image in the span, its
    /// newest one merged over its newest level-2 image; returns the pack's size, nil when no chain had one.
    private func writeLevel2(start: Int64, inventory: ContinuousHistory.Inventory) throws -> Int64? {
        let folder = try workFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let end = start + levels.span2Milliseconds
        let name = CapturePack.name(level: 2, start: start)
        var packed: [PackedSource] = []
        var files: [String] = []
        var spools: [SpoolFile] = []
        var offset: Int64 = 0
        for (source, history) in inventory.histories.sorted(by: { $0.key < $1.key }) {
            for chain in history.chains {
                let anchor = chain.images.last { $0.level == 2 && $0.pack.name < name.name }
                guard
                    let newest = chain.images.last(where: {
                        $0.level == 1 && $0.image.anchor == anchor?.pack.name
                            && (start..<end).contains(CaptureBatch.writtenTime(of: $0.pack) ?? .min)
                    })
                else { continue }
                let spool = try SpoolFile(folder: folder)
                let count = try PageRecords.merge(
                    older: try anchor.map { try PageRecords.image($0, storage: storage) },
                    newer: try PageRecords.image(newest, storage: storage),
                    upTo: newest.image.pages, into: spool)
                try spool.pack()
                var image = newest.image
                image.anchor = nil
                image.count = count
                image.range = PackRange(offset: offset, bytes: spool.packedFileBytes)
                offset += spool.packedFileBytes
                files.append(spool.path)
                spools.append(spool)
                packed.append(PackedSource(source: source, sections: [], body: nil, image: image))
            }
        }
        guard !packed.isEmpty else { return nil }
        let pack = CapturePack(level: 2, start: start, end: end, batches: [], sources: packed)
        try CaptureObjects.write(pack, bodies: files, to: storage)
        return try storage.stat(pack.storedName)?.size ?? 0
    }

    private func workFolder() throws -> String {
        let folder = (scratch as NSString).appendingPathComponent("compact-\(UInt64.random(in: 0...UInt64.max))")
        try FileSystem.createDirectory(folder)
        return folder
    }
}
