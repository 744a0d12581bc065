import VeloFormat
import VeloRepository
import VeloStorage

/// The continuous-capture part of `velo status`: per source `velo replicate` captured into the repository, how
/// far behind the newest capture is (the lag: a running replicator stores a batch at least every 30 s even when
/// nothing changed), the moments a restore can reach, and the gaps. Critical when the lag is over `maxLag` (the
/// replicator stopped, or cannot store) or a gap is open (the newest chain broke and no new base followed yet).
package enum ReplicationStatus {
    package struct Source: Encodable, Sendable {
        package var source: String
        package var state: BackupStatus.State
        package var reasons: [String]
        /// Seconds since the newest moment captured.
        package var lagSeconds: Double
        /// The restorable spans, oldest first (ISO 8601 with milliseconds).
        package var windows: [Window]
        /// Seconds of all restorable spans together.
        package var windowSeconds: Double
        /// Every gap recorded in the captures kept, and whether the newest chain is broken now.
        package var gaps: Int
        package var openGap: Bool
        /// The newest gap's reason, when there is one.
        package var lastGap: String?
    }

    package struct Window: Encodable, Sendable {
        package var from: String
        package var to: String
    }

    /// The status of every captured source of `repository`, as of `now` (ms); empty when nothing is captured.
    /// - Throws: what reading the captures throws (a damaged batch or pack, named).
    package static func evaluate(_ repository: Repository, now: Int64, maxLag: Interval) throws -> [Source] {
        let inventory = try ContinuousHistory.inventory(storage: repository.storage)
        return inventory.histories.values.map { evaluate($0, now: now, maxLag: maxLag) }.sorted { $0.source < $1.source }
    }

    package static func evaluate(_ history: ContinuousHistory, now: Int64, maxLag: Interval) -> Source {
        let windows = history.windows
        let newest = max(windows.last?.upperBound ?? 0, history.chains.last?.end ?? 0)
        let lag = Double(max(0, now - newest)) / 1000
        var state = BackupStatus.State.ok
        var reasons: [String] = []
        if lag > Double(maxLag.seconds) {
            state = .critical
            reasons.append("the newest capture is \(Interval(seconds: Int64(lag))) old (more than \(maxLag)): is velo replicate running?")
        }
        let open = !history.isWhole
        if open {
            state = .critical
            reasons.append(
                "a gap is open: \(history.gaps.last?.reason ?? "the captures stopped continuing"); velo replicate takes a new base when it runs"
            )
        }
        return Source(
            source: history.source, state: state, reasons: reasons, lagSeconds: lag,
            windows: windows.map { Window(from: PointInTimeError.format($0.lowerBound), to: PointInTimeError.format($0.upperBound)) },
            windowSeconds: Double(windows.reduce(Int64(0)) { $0 + ($1.upperBound - $1.lowerBound) }) / 1000, gaps: history.gaps.count,
            openGap: open, lastGap: history.gaps.last?.reason)
    }
}
