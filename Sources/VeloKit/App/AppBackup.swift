import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo backup --app`: every source of a Veloquent installation (the landlord and each tenant, or the single
/// tenant) into one repository, each its own snapshot with the tenant's uploaded files, up to `jobs` at once
/// under one repository lock. One source failing does not stop the others; the report says what happened to
/// each, and a source velo cannot back up (not SQLite, a storage disk it cannot find) is reported as not
/// covered. A tenant's files are read from its storage disk: its folder, the app's bucket, or its own bucket.
package enum AppBackup {
    package struct Options: Sendable {
        /// `--tenants`: the sources to back up (names, domains, ids, or `landlord`); nil for all.
        package var tenants: [String]?
        /// Sources backed up at once.
        package var jobs: Int = AppBackup.defaultJobs
        package var backup = Backup.Options()
        package init() {}
    }

    /// `--jobs` by default: the machine's cores.
    package static var defaultJobs: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// What happened to one source.
    package struct Outcome: Encodable, Sendable {
        package enum Status: String, Encodable, Sendable {
            case ok
            case failed
            case notCovered = "not-covered"
        }
        package var source: String
        package var kind: String
        package var tenantID: Int64?
        package var database: String?
        package var status: Status
        /// Why it failed or is not covered.
        package var reason: String?
        package var snapshot: String?
        package var rows: Int?
        package var files: Int?
        package var fileBytes: Int64?
        /// The storage disk the files were read from (a folder, or `s3:…`).
        package var uploads: String?
        package var skippedFiles: [String]?
        package var bytes: Int64?
        package var seconds: Double
    }

    package struct Report: Encodable, Sendable {
        package var app: String
        package var repository: String
        package var jobs: Int
        package var sources: [Outcome]
        package var seconds: Double
        package var failed: [String] { sources.filter { $0.status == .failed }.map(\.source) }
        package var notCovered: [String] { sources.filter { $0.status == .notCovered }.map(\.source) }

        enum CodingKeys: String, CodingKey { case app, repository, jobs, sources, seconds, failed, notCovered }
        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(app, forKey: .app)
            try c.encode(repository, forKey: .repository)
            try c.encode(jobs, forKey: .jobs)
            try c.encode(sources, forKey: .sources)
            try c.encode(seconds, forKey: .seconds)
            try c.encode(failed, forKey: .failed)
            try c.encode(notCovered, forKey: .notCovered)
        }
    }

    /// Backs up the app at `appPath` (its sources already read into `sources` by `AppLayout.sources`).
    /// - Throws: only what stops every source: the repository lock (`.locked`), an interruption (after the
    ///   running sources stopped cleanly). A source's own failure is in its outcome.
    package static func run(
        layout: AppLayout, sources: [TenantSource], repository: Repository, options: Options,
        progress: (any ProgressObserver)? = nil
    ) throws -> Report {
        guard options.jobs >= 1 else {
            throw VeloError("the sources backed up at once must be 1 or more, not \(options.jobs)", kind: .usage, setting: "jobs")
        }
        let started = ContinuousClock.now
        let lock = try repository.writerLock(command: "velo backup --app")
        defer { lock.release() }
        let state = SharedState(count: sources.count, firstSequence: try repository.catalog.nextSequence(), progress: progress)
        defer { progress?.finish() }
        let jobs = min(options.jobs, max(1, sources.count))
        var backup = options.backup
        // Each job compresses on its own thread unless told otherwise: the jobs already keep the cores busy.
        if jobs > 1 && backup.workers == Backup.defaultWorkers { backup.workers = 0 }
        // The repository is only read by the jobs, apart from catalog writes of distinct entries and the
        // sequence numbers, which `state` hands out under its lock.
        nonisolated(unsafe) let shared = repository
        // Incremental snapshots (the default) store pieces before their archives: a source that fails leaves
        // pieces nothing references, swept once every job is done (the marker, written by the first piece any
        // job stores, stays for the next writer when velo is stopped first or the sweep cannot finish).
        let marker = backup.incremental ? SweepMarker(repository) : nil
        repository.sweepMarker = marker
        defer { repository.sweepMarker = nil }
        let work: @Sendable () -> Void = { [backup] in
            while let index = state.next() {
                let outcome = Self.backUp(sources[index], layout: layout, repository: shared, options: backup, state: state)
                state.finish(index, outcome)
            }
        }
        if jobs == 1 {
            work()
        } else {
            let group = DispatchGroup()
            for _ in 0..<jobs {
                group.enter()
                let thread = Thread {
                    work(); group.leave()
                }
                thread.stackSize = 4 << 20
                thread.start()
            }
            group.wait()
        }
        try Interruption.check()
        if let marker {
            if state.outcomes.contains(where: { $0?.status == .failed }) { marker.finishFailed() } else { marker.finishSucceeded() }
        }
        let elapsed = ContinuousClock.now - started
        return Report(
            app: layout.root, repository: repository.root, jobs: jobs, sources: state.outcomes.map { $0! },
            seconds: elapsed.inSeconds)
    }

    /// One source: checked, then backed up; every failure becomes its outcome.
    static func backUp(
        _ source: TenantSource, layout: AppLayout, repository: Repository, options: Backup.Options, state: SharedState
    ) -> Outcome {
        let started = ContinuousClock.now
        var outcome = Outcome(
            source: source.label, kind: source.kind.rawValue, tenantID: source.tenant?.id, database: source.databasePath,
            status: .ok, seconds: 0)
        func seconds() -> Double {
            let elapsed = ContinuousClock.now - started
            return elapsed.inSeconds
        }
        if let reason = source.notCovered {
            outcome.status = .notCovered
            outcome.reason = reason
            return outcome
        }
        guard let database = source.databasePath else {
            outcome.status = .notCovered
            outcome.reason = "no SQLite database"
            return outcome
        }
        do {
            try Interruption.check()
            let checked = try Backup.checkSource(database, busyTimeout: options.busyTimeout)
            var backup = options
            backup.uploads = source.uploads
            if source.uploads != nil,
                let own = try TenantStorageSettings.ownBucket(database: database, layout: layout, busyTimeout: options.busyTimeout)
            {
                backup.uploads = own
            }
            outcome.uploads = backup.uploads?.root
            // The landlord has no collections: a selection of them applies to the tenants.
            if source.kind == .landlord { backup.collections = nil }
            backup.app = AppOrigin(
                path: layout.root, tenantID: source.tenant?.id, tenantName: source.tenant?.name, tenantDomain: source.tenant?.domain)
            let result = try withExtendedLifetime(checked) {
                try Backup.write(
                    databasePath: database, repository: repository, options: backup, progress: nil,
                    sequence: { state.sequence() })
            }
            outcome.snapshot = result.id
            outcome.rows = result.rows.values.reduce(0, +)
            outcome.files = result.files
            outcome.fileBytes = result.fileBytes
            outcome.skippedFiles = result.skippedFiles.flatMap { $0.isEmpty ? nil : $0 }
            outcome.bytes = result.bytes
            for skipped in result.skippedFiles ?? [] { Diagnostics.warn("\(source.label): \(skipped)") }
        } catch {
            outcome.status = .failed
            outcome.reason = "\(error)"
        }
        outcome.seconds = seconds()
        return outcome
    }

    /// The work list, the outcomes and the catalog sequence, shared by the jobs.
    final class SharedState: @unchecked Sendable {
        private let lock = NSLock()
        private var nextIndex = 0
        private var nextSequence: Int
        private(set) var outcomes: [Outcome?]
        private var done = 0
        /// Told (under the lock, so one call at a time) each time a source is finished.
        private let progress: (any ProgressObserver)?

        init(count: Int, firstSequence: Int, progress: (any ProgressObserver)?) {
            outcomes = Array(repeating: nil, count: count)
            nextSequence = firstSequence
            self.progress = progress
        }

        /// The next source to back up, nil when none is left or velo is being stopped.
        func next() -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard nextIndex < outcomes.count, (try? Interruption.check()) != nil else { return nil }
            nextIndex += 1
            return nextIndex - 1
        }

        func sequence() -> Int {
            lock.lock(); defer { lock.unlock() }
            nextSequence += 1
            return nextSequence - 1
        }

        func finish(_ index: Int, _ outcome: Outcome) {
            lock.lock(); defer { lock.unlock() }
            outcomes[index] = outcome
            done += 1
            progress?.update(done, of: outcomes.count, unit: "sources", detail: outcome.source)
        }
    }
}
