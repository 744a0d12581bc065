import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// One round of `velo run --config`: whatever is due, in order: a backup of every source whose newest snapshot
/// is at least `backup_every` old, a prune with the retention policy, a verification of the snapshots not
/// verified for `verify_every`, then the Prometheus textfile. What cron or a systemd timer calls; two rounds on
/// one repository never run at once (`locks/round.json`, a lock object a later round takes over once its process is gone).
package enum Round {
    /// What happened to one source.
    package struct SourceBackup: Encodable, Sendable {
        /// The database file (as snapshots record their source), or the app's name for a tenant without one.
        package var source: String
        /// With an app: the tenant's name, or `landlord`.
        package var tenant: String? = nil
        /// `backed-up`, `not-due`, `failed`, `not-covered` (an app's tenant velo cannot back up, accepted by
        /// `skip_uncovered`).
        package var action: String
        package var lastSnapshot: String?
        package var snapshot: String?
        package var bytes: Int64?
        package var seconds: Double?
        package var error: String?
    }

    /// What happened to one of the other repositories the config lists.
    package struct CopyOutcome: Encodable, Sendable {
        package var repository: String
        /// Snapshots copied this round, and those it held already.
        package var copied = 0
        package var skipped = 0
        package var bytes: Int64 = 0
        /// Snapshots the retention policy removed there.
        package var pruned: Int?
        package var requests: StorageRequests?
        /// Why the copy or its prune failed (an unreachable bucket, a refused credential).
        package var error: String?
    }

    package struct Report: Encodable, Sendable {
        package var time: String
        package var config: String
        package var repository: String
        package var backups: [SourceBackup]
        package var prune: Prune.Report?
        package var pruneError: String?
        package var verified: [Verifier.Report]
        /// The other repositories of the config, each brought up to date with the primary.
        package var copies: [CopyOutcome] = []
        package var prometheus: String?
        package var status: BackupStatus.State
        /// Sources that failed, by name.
        package var failed: [String]
        /// Snapshots found damaged by this round's verification.
        package var damaged: [String]
    }

    /// A tolerance for timers that fire a little early: a source is due when its newest snapshot is older than
    /// `backup_every` less this (a tenth of it, at most a minute).
    static func slack(_ every: Interval) -> Int64 { min(60, every.seconds / 10) }

    /// Runs one round. Per-source failures are in the report, not thrown.
    /// - Throws: `.locked` when another round is running, `.input` for a repository that cannot be opened,
    ///   `.interrupted` after SIGINT/SIGTERM.
    package static func run(
        config: RunConfig, now: Int64 = Timestamp.now,
        progress: (String) -> (any ProgressObserver)? = { _ in nil }
    ) throws -> Report {
        let repository = try Repository.open(config.repository, create: true, access: RepositoryAccess(password: config.password))
        // A manual velo holding the repository is waited for, for a while, rather than failing the round.
        repository.lockWait = .seconds(300)
        let roundLock = try RoundLock(repository: repository)
        defer { roundLock.release() }

        let summaries = try repository.catalog.index.summaries().sources
        let latest = Dictionary(summaries.compactMap { s in s.latest.map { (s.source, $0.time) } }, uniquingKeysWith: max)
        func due(_ source: String) -> Bool {
            guard let last = latest[source] else { return true }
            return now - last >= config.backupEvery.seconds - slack(config.backupEvery)
        }

        var backups: [SourceBackup] = []
        for database in config.databases {
            try Interruption.check()
            let source = FileSystem.absolute(database)
            let last = latest[source].map(Timestamp.iso8601)
            guard due(source) else {
                backups.append(SourceBackup(source: source, action: "not-due", lastSnapshot: last))
                continue
            }
            do {
                let checked = try Backup.checkSource(database)
                var options = Backup.Options()
                options.tags = config.tags
                options.level = config.level
                options.incremental = !config.full
                let result = try withExtendedLifetime(checked) {
                    try Backup.run(
                        databasePath: database, repository: repository, options: options, progress: progress("backup \(database)"))
                }
                backups.append(
                    SourceBackup(
                        source: source, action: "backed-up", lastSnapshot: last, snapshot: result.id,
                        bytes: result.bytes, seconds: result.seconds))
            } catch let error as VeloFailure where error.kind == .interrupted {
                throw error
            } catch {
                backups.append(SourceBackup(source: source, action: "failed", lastSnapshot: last, error: "\(error)"))
            }
        }
        if let app = config.app {
            try Interruption.check()
            do {
                backups += try backUp(app: app, config: config, repository: repository, latest: latest, due: due, progress: progress)
            } catch let error as VeloFailure where error.kind == .interrupted {
                throw error
            } catch {
                backups.append(SourceBackup(source: app, action: "failed", error: "\(error)"))
            }
        }

        var pruneReport: Prune.Report?
        var pruneError: String?
        if let policy = config.retention {
            try Interruption.check()
            do { pruneReport = try Prune.run(repository: repository, policy: policy, dryRun: false, now: now) } catch let error
                as VeloFailure where error.kind == .interrupted
            {
                throw error
            } catch {
                pruneError = "\(error)"
            }
        }

        var verified: [Verifier.Report] = []
        let candidates = try repository.catalog.scan().entries
            .filter { ($0.verification?.time).map { now - $0 >= config.verifyEvery.seconds - slack(config.verifyEvery) } ?? true }
            .sorted { ($0.time, $0.sequence) > ($1.time, $1.sequence) }  // newest first: the ones a restore would pick
        for entry in candidates.prefix(config.verifyLimit ?? Int.max) {
            try Interruption.check()
            verified.append(
                try Verifier.verify(.catalogued(entry, repository: repository), progress: progress("verify \(SnapshotID.short(entry.id))")))
        }

        var copies: [CopyOutcome] = []
        for location in config.copies {
            try Interruption.check()
            copies.append(try copy(from: repository, to: location, config: config, now: now, progress: progress))
        }

        var statusOptions = BackupStatus.Options()
        statusOptions.expectedSources = (try? config.expectedSources()) ?? config.databases
        statusOptions.maxAge = config.maxAge
        statusOptions.maxLag = config.maxLag
        statusOptions.now = now
        var status = BackupStatus.evaluate(repository, options: statusOptions)
        // A repository that could not be brought up to date is off-site protection lost: critical.
        if copies.contains(where: { $0.error != nil }) {
            status.state = .critical
            status.failedCopies = copies.compactMap { c in c.error.map { "\(c.repository): \($0)" } }
        }
        var prometheusError: String?
        if let path = config.prometheus {
            do { try PrometheusTextfile.write(status, to: path) } catch { prometheusError = "\(error)" }
        }
        var failed = backups.filter { $0.action == "failed" }.map(\.source)
        if pruneError != nil { failed.append("prune") }
        if let prometheusError { failed.append("prometheus: \(prometheusError)") }
        failed += copies.filter { $0.error != nil }.map { "copy to \($0.repository)" }
        return Report(
            time: Timestamp.iso8601(now), config: config.file, repository: repository.root, backups: backups,
            prune: pruneReport, pruneError: pruneError, verified: verified, copies: copies, prometheus: config.prometheus,
            status: status.state, failed: failed, damaged: verified.filter { !$0.ok }.compactMap(\.id))
    }

    /// Brings one of the other repositories up to date with the primary (every snapshot it lacks), then applies
    /// the retention policy there. A failure is reported, not thrown: one unreachable repository does not stop
    /// the round or the other copies.
    static func copy(
        from primary: Repository, to location: String, config: RunConfig, now: Int64, progress: (String) -> (any ProgressObserver)?
    ) throws -> CopyOutcome {
        var outcome = CopyOutcome(repository: location)
        do {
            let destination = try Repository.open(location, create: true, access: RepositoryAccess(password: config.password))
            destination.lockWait = .seconds(300)
            outcome.repository = destination.root
            let report = try SnapshotCopy.run(
                from: primary, to: destination, entries: primary.catalog.scan().entries, progress: progress("copy to \(location)"))
            outcome.copied = report.copied.count
            outcome.skipped = report.skipped.count
            outcome.bytes = report.bytes
            outcome.requests = report.requestsTo
            if let policy = config.retention {
                let pruned = try Prune.run(repository: destination, policy: policy, dryRun: false, now: now)
                outcome.pruned = pruned.remove.count
                if let requests = pruned.requests { outcome.requests = (outcome.requests ?? StorageRequests()) + requests }
            }
        } catch let error as VeloFailure where error.kind == .interrupted {
            throw error
        } catch {
            outcome.error = "\(error)"
        }
        return outcome
    }
}

extension Round {
    /// The due sources of an app (its landlord and tenants), backed up in parallel as `velo backup --app` does.
    static func backUp(
        app: String, config: RunConfig, repository: Repository, latest: [String: Int64], due: (String) -> Bool,
        progress: (String) -> (any ProgressObserver)?
    ) throws -> [SourceBackup] {
        let layout = try AppLayout.load(app)
        let sources = try layout.sources(selecting: config.tenants.isEmpty ? nil : config.tenants)
        var results: [SourceBackup] = []
        var dueSources: [TenantSource] = []
        for source in sources {
            if let database = source.databasePath, source.notCovered == nil, !due(FileSystem.absolute(database)) {
                results.append(
                    SourceBackup(
                        source: FileSystem.absolute(database), tenant: source.label, action: "not-due",
                        lastSnapshot: latest[FileSystem.absolute(database)].map(Timestamp.iso8601)))
            } else {
                dueSources.append(source)
            }
        }
        guard !dueSources.isEmpty else { return results }
        var options = AppBackup.Options()
        options.tenants = config.tenants.isEmpty ? nil : config.tenants
        if let jobs = config.jobs { options.jobs = jobs }
        options.backup.tags = config.tags
        options.backup.level = config.level
        options.backup.incremental = !config.full
        let report = try AppBackup.run(
            layout: layout, sources: dueSources, repository: repository, options: options,
            progress: progress("backup --app \(app)"))
        for outcome in report.sources {
            let source = outcome.database.map(FileSystem.absolute) ?? "\(layout.root) (\(outcome.source))"
            let action: String
            switch outcome.status {
            case .ok: action = "backed-up"
            case .failed: action = "failed"
            case .notCovered: action = config.skipUncovered ? "not-covered" : "failed"
            }
            results.append(
                SourceBackup(
                    source: source, tenant: outcome.source, action: action,
                    lastSnapshot: latest[source].map(Timestamp.iso8601), snapshot: outcome.snapshot,
                    bytes: outcome.bytes, seconds: outcome.seconds, error: outcome.reason))
        }
        return results
    }
}

/// The lock that keeps two rounds on one repository apart: the lock object `round.json`, taken over when the
/// round that left it is gone (killed, crashed), as the writers' lock is.
struct RoundLock {
    private let lock: RepositoryLock

    init(repository: Repository) throws {
        do {
            lock = try RepositoryLock.acquire(
                storage: repository.storage, name: .roundLock, command: "velo run", timing: repository.lockTiming)
        } catch RepositoryLock.Failure.held {
            throw VeloError("\(repository.root): another velo run round is in progress on this repository", kind: .locked)
        }
        if let stale = lock.replacedStaleOwner, let reason = lock.replacedStaleReason {
            Diagnostics.warn("\(repository.root): took over the round lock of \(stale.summary), \(reason)")
        }
    }

    func release() { lock.release() }
}
