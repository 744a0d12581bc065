import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A status report in the Prometheus text exposition format, for node_exporter's textfile collector, written
/// atomically (a temporary file beside it, renamed over it) so the collector never reads half a file.
package enum PrometheusTextfile {
    /// The metrics of `report`, one family after another, each with HELP and TYPE lines.
    package static func render(_ report: BackupStatus.Report) -> String {
        var out = ""
        func family(_ name: String, _ help: String, _ values: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for v in values { out += "\(name)\(v.labels) \(v.value)\n" }
        }
        func labels(_ s: BackupStatus.Source) -> String { "{source=\"\(escape(s.source))\",kind=\"\(escape(s.kind))\"}" }
        let sources = report.sources
        let now = Timestamp.parseISO8601(report.time) ?? Timestamp.now
        family(
            "velo_last_backup_timestamp_seconds", "Time of the source's newest snapshot (Unix seconds).",
            sources.compactMap { s in s.latest.map { (labels(s), String(now - $0.ageSeconds)) } })
        family(
            "velo_last_verify_timestamp_seconds", "Time of the newest verification of any of the source's snapshots.",
            sources.compactMap { s in s.lastVerification.map { (labels(s), String(now - $0.ageSeconds)) } })
        family(
            "velo_last_verify_ok", "1 when the newest verification found the snapshot sound, 0 when it found damage.",
            sources.compactMap { s in s.lastVerification.map { (labels(s), $0.ok ? "1" : "0") } })
        family(
            "velo_snapshot_bytes",
            "Bytes the source's newest snapshot added to the repository (its archive, and an incremental snapshot's new packs and lists).",
            sources.compactMap { s in s.latest.map { (labels(s), String($0.bytes)) } })
        family("velo_snapshots", "Snapshots of the source in the repository.", sources.map { (labels($0), String($0.snapshots)) })
        family(
            "velo_snapshots_failing", "Snapshots of the source whose last verification failed.",
            sources.map { (labels($0), String($0.failing.count)) })
        family(
            "velo_repository_bytes",
            "Bytes the source's snapshots in the repository added when they were taken (archives, and new packs and lists).",
            sources.map { (labels($0), String($0.totalBytes)) })
        family(
            "velo_source_status",
            "0 ok, 1 warning (never verified, or verified too long ago), 2 critical (stale, failed verification, no snapshot).",
            sources.map { (labels($0), $0.state == .ok ? "0" : $0.state == .warning ? "1" : "2") })
        let continuous = report.continuous
        func source(_ s: ReplicationStatus.Source) -> String { "{source=\"\(escape(s.source))\"}" }
        family(
            "velo_replication_lag_seconds", "Seconds since the newest moment continuous capture stored of the source.",
            continuous.map { (source($0), String(format: "%.3f", $0.lagSeconds)) })
        family(
            "velo_restorable_window_seconds", "Seconds of the source's history a restore to a moment can reach (gaps left out).",
            continuous.map { (source($0), String(format: "%.3f", $0.windowSeconds)) })
        family(
            "velo_replication_gaps_total", "Gaps recorded in the source's continuous capture still kept (prune removes old ones).",
            continuous.map { (source($0), String($0.gaps)) })
        family(
            "velo_replication_gap_open", "1 when the source's newest chain of captures is broken and no new base followed yet.",
            continuous.map { (source($0), $0.openGap ? "1" : "0") })
        family("velo_catalog_damaged_entries", "Catalog entries that cannot be read.", [("", String(report.damagedCatalogEntries.count))])
        family("velo_status_timestamp_seconds", "When this file was written.", [("", String(now))])
        return out
    }

    /// Writes the metrics of `report` to `path` atomically (mode 0644, so the collector can read it).
    package static func write(_ report: BackupStatus.Report, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        guard FileSystem.isDirectory(directory.isEmpty ? "." : directory) else {
            throw VeloError("\(path): the folder \(directory) does not exist")
        }
        try FileSystem.replaceAtomically(Array(render(report).utf8), at: path, mode: 0o644)
    }

    /// A label value with `\`, `"` and newlines escaped, as the exposition format requires.
    static func escape(_ value: String) -> String {
        var out = ""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }
}
