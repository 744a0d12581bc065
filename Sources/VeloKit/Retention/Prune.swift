import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo prune`: applies a retention policy to a repository. Removal is crash-safe: a removal marker is
/// written first, then the catalog entry goes, then the archive; a prune killed midway is completed by the
/// next writer, and the catalog never lists an archive that is gone.
public enum Prune {
    public struct Kept: Encodable, Sendable {
        public var id: String
        public var time: String
        public var reasons: [String]
    }

    public struct Removed: Encodable, Sendable {
        public var id: String
        public var time: String
        public var bytes: Int64
    }

    public struct Report: Encodable, Sendable {
        public var keep: [Kept]
        public var remove: [Removed]
        public var bytesFreed: Int64
        public var dryRun: Bool
        /// Snapshots whose last verification failed (they fill no slot).
        public var damaged: [String]
        /// Decisions by group, newest first, for the text report.
        public var groups: [String: [String]]
        /// The requests the prune sent to a repository billed by request (object storage); nil for a folder.
        public var requests: StorageRequests? = nil
        /// What `keep_within_continuous` removed of continuous capture; nil without that rule.
        public var continuous: ContinuousPrune.Report? = nil
    }

    /// Decides and (unless `dryRun`) removes. `now` defaults to the current time. Each removal is crash-safe.
    /// - Throws: `.locked` when another velo holds the repository, `.input` when the policy would remove every
    ///   snapshot, `.io`, `.interrupted` (between removals).
    public static func run(repository: Repository, policy: RetentionPolicy, dryRun: Bool, now: Int64? = nil) throws -> Report {
        let requestsBefore = repository.storage.requests
        let lock = dryRun ? nil : try repository.writerLock(command: "velo prune")
        defer { lock?.release() }
        let catalog = try repository.catalog.scan()
        for damaged in catalog.damaged {
            Diagnostics.warn("\(damaged): left alone by the policy; verify every snapshot to see what else is damaged")
        }
        let entries = catalog.entries
        let decisions = RetentionEvaluator(policy: policy).decide(entries, now: now ?? Timestamp.now)
        let byID = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var report = Report(keep: [], remove: [], bytesFreed: 0, dryRun: dryRun, damaged: [], groups: [:])
        for d in decisions {
            if d.keep {
                report.keep.append(Kept(id: d.id, time: Timestamp.iso8601(d.time), reasons: d.reasons))
            } else {
                report.remove.append(Removed(id: d.id, time: Timestamp.iso8601(d.time), bytes: d.bytes))
                report.bytesFreed += d.bytes
            }
            if d.damaged { report.damaged.append(d.id) }
            report.groups[d.group, default: []].append(d.id)
        }
        // Incremental snapshots share pieces: what a removal frees is what no remaining snapshot uses.
        let hasPieces = PieceSweep.hasPieces(repository.storage) || (try? repository.storage.stat(.sweepMarker)) != nil
        if dryRun {
            if hasPieces {
                let removing = Set(report.remove.compactMap { byID[$0.id]?.archive })
                report.bytesFreed += PieceSweep.run(repository, excluding: removing, dryRun: true).bytes
            }
        } else {
            guard report.keep.count > 0 || entries.isEmpty else {
                throw VeloError("\(repository.root): the policy would remove every snapshot; nothing was removed")
            }
            if hasPieces && !report.remove.isEmpty { try PieceSweep.markNeeded(repository) }
            for removed in report.remove {
                try Interruption.check()  // between removals: each one is whole
                guard let entry = byID[removed.id] else { continue }
                try repository.remove(entry)
                Diagnostics.info("\(repository.root): removed snapshot \(entry.id) (\(entry.archive))")
            }
            if hasPieces && !report.remove.isEmpty {
                let swept = PieceSweep.run(repository)
                report.bytesFreed += swept.bytes
                if swept.complete { PieceSweep.clearNeeded(repository) }
                Diagnostics.info("\(repository.root): \(swept.files.count) pieces no snapshot uses removed (\(swept.bytes) bytes)")
            }
        }
        if let keep = policy.keepWithinContinuous {
            report.continuous = try ContinuousPrune.run(
                storage: repository.storage, keep: keep, timeZone: policy.timeZone, now: (now ?? Timestamp.now) * 1000, dryRun: dryRun)
        }
        if let requestsBefore, let after = repository.storage.requests { report.requests = after - requestsBefore }
        return report
    }
}
