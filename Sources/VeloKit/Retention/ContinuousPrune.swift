import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Retention of continuous capture (`keep_within_continuous`): every moment of the last span stays restorable,
/// and what only older moments need goes. A chain is kept whole from its base once any moment of it is within
/// the span, so the window starts at the start of the chain that holds the span's first moment (at most one
/// `velo replicate --base-every` earlier). A batch or level-1 pack goes when every source it holds something of
/// has a newer chain that is kept, a level-2 pack when none of its images is of a kept chain; a base goes with
/// its chain, and a base nothing refers to (a replicator killed right after storing it) once it is an hour old.
///
/// Removals run oldest first, batches and level-1 packs, then level-2 packs, then bases: a prune killed midway
/// leaves chains that start later, never frames or images without their base.
public enum ContinuousPrune {
    public struct Report: Encodable, Sendable {
        public var batchesRemoved = 0
        public var packsRemoved = 0
        public var basesRemoved = 0
        public var bytesFreed: Int64 = 0
        public var batchesKept = 0
        public var packsKept = 0
        /// Per source, the first restorable moment left (ISO 8601), or nil when nothing of it is left.
        public var windowStarts: [String: String?] = [:]
    }

    /// Applies the span `keep` counted back from `now` (ms) to the captures in `storage`.
    public static func run(
        storage: any RepositoryStorage, keep: RetentionDuration, timeZone: TimeZone, now: Int64, dryRun: Bool
    ) throws
        -> Report
    {
        // One cache of headers for the history and the walk below: each batch's header is read once.
        let headers = CaptureHeaders(for: storage)
        let inventory = try ContinuousHistory.inventory(storage: storage, cache: headers)
        guard !inventory.names.isEmpty else { return Report() }
        // To the millisecond for hours and days (a commit's moment is one); months and years by the calendar.
        let cutoff =
            keep.years == 0 && keep.months == 0
            ? now - (Int64(keep.days) * 86_400 + Int64(keep.hours) * 3_600) * 1000
            : CalendarPeriods(timeZone: timeZone).subtract(keep, from: now / 1000) * 1000

        // Per source, the first object still needed (the one holding the base of the oldest chain that reaches
        // the span: objects are named by time, so every later one is needed too), and the chains kept.
        var firstNeeded: [String: String] = [:]
        var keptChains = Set<String>()
        var report = Report()
        for (source, history) in inventory.histories {
            if let index = history.chains.firstIndex(where: { $0.end >= cutoff }) {
                let chain = history.chains[index]
                firstNeeded[source] = chain.baseBatch.name
                report.windowStarts[source] = PointInTimeError.format(chain.start)
                for kept in history.chains[index...] { keptChains.insert(kept.base.object) }
            } else {
                firstNeeded[source] = "~"  // after every name: nothing of it is needed
                report.windowStarts[source] = .some(nil)
            }
        }
        func needed(_ name: StoredName, _ source: String) -> Bool { name.name >= firstNeeded[source, default: ""] }

        var remove: [StoredName] = []
        var removeLevel2: [StoredName] = []
        var keptBases = Set<String>()
        var referenced = Set<String>()
        let packs = Dictionary(uniqueKeysWithValues: inventory.packs.map { ($0.name, $0.pack) })
        for name in inventory.names {
            if name.name.hasSuffix(".batch") {
                let batch = try headers.batch(name, storage: storage, size: inventory.sizes[name])
                let bases = batch.sources.compactMap { $0.base?.object }
                referenced.formUnion(bases)
                if batch.sources.contains(where: { needed(name, $0.source) }) {
                    report.batchesKept += 1
                    keptBases.formUnion(bases)
                } else {
                    remove.append(name)
                }
            } else if let pack = packs[name] {
                let bases = pack.sources.flatMap { $0.sections.compactMap { $0.base?.object } }
                referenced.formUnion(bases)
                let keep =
                    pack.level == 2
                    ? pack.sources.contains { $0.image.map { keptChains.contains($0.chain) } ?? false }
                    : pack.sources.contains { needed(name, $0.source) }
                if keep {
                    report.packsKept += 1
                    keptBases.formUnion(bases)
                } else if pack.level == 2 {
                    removeLevel2.append(name)
                } else {
                    remove.append(name)
                }
            }
        }
        let hourAgo = now - 3_600_000
        let removeBases = inventory.names.filter { name in
            guard name.name.hasSuffix(".base"), !keptBases.contains(name.name) else { return false }
            return referenced.contains(name.name) || (CaptureBatch.writtenTime(of: name) ?? now) < hourAgo
        }

        // Oldest first, frames before the images over them and the bases under them.
        for name in remove + removeLevel2 + removeBases {
            report.bytesFreed += inventory.sizes[name] ?? 0
            if name.name.hasSuffix(".batch") {
                report.batchesRemoved += 1
            } else if name.name.hasSuffix(".pack") {
                report.packsRemoved += 1
            } else {
                report.basesRemoved += 1
            }
            guard !dryRun else { continue }
            try Interruption.check()
            try storage.remove(name)
        }
        return report
    }
}
