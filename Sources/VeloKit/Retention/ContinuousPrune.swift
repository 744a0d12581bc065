import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Retention of continuous capture (`keep_within_continuous`): every moment of the last span stays restorable,
/// and what only older moments need goes. A chain is kept whole from its base once any moment of it is within
/// the span, so the window starts at the start of the chain that holds the span's first moment (at most one
/// `velo replicate --base-every` earlier). A batch goes when every source it holds something of has a newer
/// chain that is kept; a base goes with its chain, and a base no batch refers to (a replicator killed right
/// after storing it) once it is an hour old.
///
/// Removals run oldest first, batches before bases: a prune killed midway leaves chains that start later, never
/// frames without their base.
public enum ContinuousPrune {
    public struct Report: Encodable, Sendable {
        public var batchesRemoved = 0
        public var basesRemoved = 0
        public var bytesFreed: Int64 = 0
        public var batchesKept = 0
        /// Per source, the first restorable moment left (ISO 8601), or nil when nothing of it is left.
        public var windowStarts: [String: String?] = [:]
    }

    /// Applies the span `keep` counted back from `now` (ms) to the captures in `storage`.
    public static func run(
        storage: any RepositoryStorage, keep: RetentionDuration, timeZone: TimeZone, now: Int64, dryRun: Bool
    ) throws
        -> Report
    {
        var infos: [StoredName: StoredInfo] = [:]
        try storage.list(.capture) { name, info in infos[name] = info }
        let batches = infos.keys.filter { $0.name.hasSuffix(".batch") }.sorted { $0.name < $1.name }
        guard !batches.isEmpty || !infos.isEmpty else { return Report() }
        // To the millisecond for hours and days (a commit's moment is one); months and years by the calendar.
        let cutoff =
            keep.years == 0 && keep.months == 0
            ? now - (Int64(keep.days) * 86_400 + Int64(keep.hours) * 3_600) * 1000
            : CalendarPeriods(timeZone: timeZone).subtract(keep, from: now / 1000) * 1000

        // The headers once: the histories, and what each batch holds.
        var headers: [(name: StoredName, batch: CaptureBatch)] = []
        for name in batches { headers.append((name, try CaptureObjectReader(name, storage: storage).batchHeader())) }
        var histories: [String: ContinuousHistory] = [:]
        for (name, batch) in headers {
            for section in batch.sources {
                histories[section.source, default: ContinuousHistory(source: section.source)].add(section, batch: name)
            }
        }
        // Per source, the first batch still needed: the base batch of the oldest chain that reaches the span.
        var firstNeeded: [String: String] = [:]
        var report = Report()
        for (source, history) in histories {
            if let chain = history.chains.first(where: { $0.end >= cutoff }) {
                firstNeeded[source] = chain.baseBatch.name
                report.windowStarts[source] = PointInTimeError.format(chain.start)
            } else {
                firstNeeded[source] = "~"  // after every name: nothing of it is needed
                report.windowStarts[source] = .some(nil)
            }
        }
        var removeBatches: [StoredName] = []
        var keptBases = Set<String>()
        for (name, batch) in headers {
            let needed = batch.sources.contains { name.name >= firstNeeded[$0.source, default: ""] }
            if needed {
                report.batchesKept += 1
                for section in batch.sources { if let base = section.base { keptBases.insert(base.object) } }
            } else {
                removeBatches.append(name)
            }
        }
        let referenced = Set(headers.flatMap { $0.batch.sources.compactMap { $0.base?.object } })
        let hourAgo = now - 3_600_000
        let removeBases = infos.keys.filter { name in
            guard name.name.hasSuffix(".base"), !keptBases.contains(name.name) else { return false }
            return referenced.contains(name.name) || (CaptureBatch.writtenTime(of: name) ?? now) < hourAgo
        }.sorted { $0.name < $1.name }

        for name in removeBatches + removeBases {
            report.bytesFreed += infos[name]?.size ?? 0
            if name.name.hasSuffix(".batch") { report.batchesRemoved += 1 } else { report.basesRemoved += 1 }
            guard !dryRun else { continue }
            try Interruption.check()
            try storage.remove(name)
        }
        return report
    }
}
