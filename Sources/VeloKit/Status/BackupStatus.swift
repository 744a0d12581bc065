import VeloFormat
import VeloRepository
import VeloStorage

/// `velo status`: whether every source has a recent, verified backup, judged from the catalog alone (through
/// `CatalogIndex`, so it answers in milliseconds over hundreds of thousands of snapshots).
///
/// States follow the monitoring-plugin convention: `ok`; `warning` when a source's snapshots were never
/// verified (or not within `maxVerifyAge`); `critical` when a source's newest snapshot is older than `maxAge`,
/// when a source that should be backed up has no snapshot at all, when the last verification of any of its
/// snapshots failed, or when a catalog entry is damaged.
package enum BackupStatus {
    package enum State: String, Encodable, Sendable, Comparable {
        case ok, warning, critical

        private var rank: Int { self == .ok ? 0 : self == .warning ? 1 : 2 }
        package static func < (a: State, b: State) -> Bool { a.rank < b.rank }
    }

    package struct Options: Sendable {
        /// A newest snapshot older than this is critical.
        package var maxAge: Interval = Interval(seconds: 26 * 3_600)
        /// When set, a last verification older than this is a warning.
        package var maxVerifyAge: Interval?
        /// Sources that must have snapshots (from a config file): one without any is critical.
        package var expectedSources: [String] = []
        /// Continuous capture whose newest moment is older than this is critical (`ReplicationStatus`).
        package var maxLag = Interval(seconds: 60)
        package var now: Int64 = Timestamp.now

        package init() {}
    }

    package struct Snapshot: Encodable, Sendable {
        package var id: String
        package var time: String
        package var ageSeconds: Int64
        package var bytes: Int64
    }

    package struct Verification: Encodable, Sendable {
        package var id: String
        package var time: String
        package var ageSeconds: Int64
        package var ok: Bool
    }

    /// One source's line of the report.
    package struct Source: Encodable, Sendable {
        package var source: String
        package var kind: String
        package var state: State
        package var reasons: [String]
        package var snapshots: Int
        package var totalBytes: Int64
        package var latest: Snapshot?
        package var lastVerification: Verification?
        package var failing: [String]
        package var unverified: Int
        /// What the newest snapshots added to the repository (`CatalogEntry.addedBytes`), oldest first.
        package var sizes: [Int64]
        /// The newest snapshot's size against the one before it, in percent (nil with fewer than two).
        package var sizeChangePercent: Double?
    }

    package struct Report: Encodable, Sendable {
        package var time: String
        package var repository: String
        package var maxAgeSeconds: Int64
        package var state: State
        package var sources: [Source]
        package var damagedCatalogEntries: [String]
        /// Whether the answer came from the catalog cache (false: the catalog was read in full).
        package var cached: Bool
        /// The config's other repositories that a round could not bring up to date, each with why (critical).
        package var failedCopies: [String] = []
        /// Every source continuous capture holds (`velo replicate`), with its lag, window and gaps.
        package var continuous: [ReplicationStatus.Source] = []
        /// Why the captures could not be read (critical), nil when they were.
        package var continuousError: String?
    }

    /// The status of every source in `repository`.
    package static func evaluate(_ repository: Repository, options: Options) -> Report {
        let index: (sources: [SourceSummary], damaged: [Catalog.DamagedEntry], fromCache: Bool)
        do { index = try repository.catalog.index.summaries() } catch {
            // A catalog that cannot be listed (refused, unreachable) is not an empty one: critical, saying why.
            return Report(
                time: Timestamp.iso8601(options.now), repository: repository.root, maxAgeSeconds: options.maxAge.seconds,
                state: .critical, sources: [], damagedCatalogEntries: ["\(error)"], cached: false)
        }
        var sources = index.sources.map { evaluate($0, options: options) }
        let known = Set(sources.map(\.source))
        for missing in options.expectedSources where !known.contains(missing) {
            sources.append(
                Source(
                    source: missing, kind: "", state: .critical, reasons: ["no snapshot"], snapshots: 0, totalBytes: 0,
                    latest: nil, lastVerification: nil, failing: [], unverified: 0, sizes: [], sizeChangePercent: nil))
        }
        sources.sort { $0.source < $1.source }
        var continuous: [ReplicationStatus.Source] = []
        var continuousError: String?
        do { continuous = try ReplicationStatus.evaluate(repository, now: options.now * 1000, maxLag: options.maxLag) } catch {
            continuousError = "\(error)"
        }
        var state = (sources.map(\.state) + continuous.map(\.state)).max() ?? .ok
        if !index.damaged.isEmpty || continuousError != nil { state = .critical }
        if sources.isEmpty && continuous.isEmpty && index.damaged.isEmpty { state = .critical }
        var report = Report(
            time: Timestamp.iso8601(options.now), repository: repository.root, maxAgeSeconds: options.maxAge.seconds,
            state: state, sources: sources, damagedCatalogEntries: index.damaged.map(\.description), cached: index.fromCache)
        report.continuous = continuous
        report.continuousError = continuousError
        return report
    }

    static func evaluate(_ summary: SourceSummary, options: Options) -> Source {
        var state = State.ok
        var reasons: [String] = []
        let latest = summary.latest
        if let latest {
            let age = options.now - latest.time
            if age > options.maxAge.seconds {
                state = .critical
                reasons.append("newest snapshot is \(Interval(seconds: age)) old (more than \(options.maxAge))")
            }
        }
        if !summary.failing.isEmpty {
            state = .critical
            let ids = summary.failing.prefix(3).map(SnapshotID.short).joined(separator: ", ")
            reasons.append("last verification failed: \(ids)\(summary.failing.count > 3 ? " and \(summary.failing.count - 3) more" : "")")
        }
        if let v = summary.lastVerification {
            if let limit = options.maxVerifyAge, options.now - v.time > limit.seconds {
                state = max(state, .warning)
                reasons.append("last verified \(Interval(seconds: options.now - v.time)) ago (more than \(limit))")
            }
        } else {
            state = max(state, .warning)
            reasons.append("never verified")
        }
        let sizes = summary.recent.map(\.bytes)
        var change: Double?
        if sizes.count >= 2, sizes[sizes.count - 2] > 0 {
            change = (Double(sizes[sizes.count - 1]) / Double(sizes[sizes.count - 2]) - 1) * 100
        }
        return Source(
            source: summary.source, kind: summary.kind, state: state, reasons: reasons, snapshots: summary.snapshots,
            totalBytes: summary.totalBytes,
            latest: latest.map {
                Snapshot(id: $0.id, time: Timestamp.iso8601($0.time), ageSeconds: options.now - $0.time, bytes: $0.bytes)
            },
            lastVerification: summary.lastVerification.map {
                Verification(id: $0.id, time: Timestamp.iso8601($0.time), ageSeconds: options.now - $0.time, ok: $0.ok)
            },
            failing: summary.failing, unverified: summary.unverified, sizes: sizes, sizeChangePercent: change)
    }
}
