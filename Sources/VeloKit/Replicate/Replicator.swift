import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo replicate`: continuous capture of a set of source databases into a repository. Polls every source's
/// write-ahead log (`SourceCapture`) every `poll`, and every `interval` stores what was read as one batch for all
/// of them (`CaptureBatch`), durable before it is reported. Runs until SIGINT or SIGTERM, then stores a last batch
/// and ends its read transactions. docs/FORMAT.md, "Continuous capture", describes what it stores and why it
/// never loses a commit silently.
public final class Replicator {
    /// How often and how much.
    public struct Options: Sendable {
        /// How often a batch is stored (when there is something to store).
        public var interval: Duration = .seconds(1)
        /// How often each source's log is read: commits are stamped with the time they were seen, so this is the
        /// precision of a point-in-time restore.
        public var poll: Duration = .milliseconds(100)
        /// How often a batch is stored when no source changed, so the restorable window keeps up with an idle
        /// source.
        public var heartbeat: Duration = .seconds(30)
        /// The log frames after which velo starts a source's log over itself (4,096 frames: 16 MiB of 4 KiB pages).
        public var walCapFrames = 4096
        /// How often `discover` is asked for new sources (an app's new tenants).
        public var rescan: Duration = .seconds(60)
        /// Switch a source in rollback-journal mode to WAL instead of refusing it.
        public var setWAL = false
        /// How old a chain may get before a new base starts a new one, without a gap (a day): what retention
        /// can remove, and at most what a restore reads.
        public var baseEvery: Duration = .seconds(86_400)
        /// The spans batches are merged over (`ContinuousCompaction`), nil to leave compaction to another process.
        public var compaction: ContinuousCompaction.Levels? = ContinuousCompaction.Levels()
        /// How long a stop may spend recording the sources' databases (a read of each, `recordStops`): within
        /// the service unit's 60 s to stop, with time left for the last batch.
        public var stopRecordBudget: Duration = .seconds(20)

        public init() {}

        /// `100ms`, or a span such as `1s`, `5m`, `1d`; nil for anything else.
        public static func duration(_ text: String) -> Duration? {
            if text.hasSuffix("ms"), let ms = Int(text.dropLast(2)), ms > 0 { return .milliseconds(ms) }
            return Interval.parse(text).map { .seconds($0.seconds) }
        }
    }

    /// One stored batch, as reported.
    public struct BatchReport: Sendable, Codable {
        public var name: String
        public var sequence: Int
        public var commits: Int
        public var bases: Int
        public var gaps: Int
    }

    /// What a run did, when it ends.
    public struct Summary: Sendable, Codable {
        public var batches = 0
        public var commits = 0
        public var bases = 0
        public var gaps = 0
        /// The longest time a seal held a source's write lock (ms).
        public var longestSealMilliseconds: Double = 0
        public var seals = 0
        /// Sources whose database a stop recorded (`recordStops`), counted once stored with the last batch.
        public var stopsRecorded = 0
        /// The longest time between the starts of two reads of the logs (ms): a commit is stamped at most this
        /// long after it was made, which bounds how precisely a restore hits a moment.
        public var longestBetweenReadsMilliseconds: Double = 0
        /// What compaction did meanwhile (nothing when another process compacts the repository).
        public var compaction = ContinuousCompaction.Report()
    }

    /// The sources being captured.
    public var sources: [String] { captures.map(\.path) }
    /// Sources `discover` named that could not be taken up (each reported once).
    public private(set) var leftOut = Set<String>()
    private let discover: (() throws -> [String])?
    /// Each captured source's lock (`lock(_:in:)`), released when the replicator ends or lets the source go.
    private var locks: [String: RepositoryLock] = [:]
    /// Sources switched to WAL by this replicator (with `setWAL`).
    public private(set) var switchedToWAL: [String] = []
    private let repository: Repository
    private let options: Options
    private var captures: [SourceCapture] = []
    private let stream: String
    private let spoolFolder: String
    private var sequence = 0
    public private(set) var summary = Summary()

    /// Opens every source (each must be in WAL mode, or is switched with `setWAL`) and finds where the
    /// repository's captures of it end.
    /// - Parameter discover: when given (an app), asked every `options.rescan` for the sources there are now:
    ///   new ones are taken up without a restart (one in rollback-journal mode without `setWAL` is reported and
    ///   left out), and one whose file is gone is let go.
    /// - Throws: `.input` naming a source in rollback-journal mode; what reading the repository throws.
    public init(
        sources: [String], repository: Repository, options: Options = Options(), discover: (() throws -> [String])? = nil
    ) throws {
        self.repository = repository
        self.options = options
        self.discover = discover
        stream = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        // The frames read since the last batch wait here: in the repository's scratch folder (on the
        // repository's disk, not a tmpfs), in a folder carrying this process's pid, which other writers'
        // cleanup leaves alone while the process lives and removes once it is gone.
        spoolFolder = (repository.storage.scratchDirectory as NSString).appendingPathComponent("velo-capture.tmp-\(getpid())")
        ScratchFolder.removeAbandoned(in: repository.storage.scratchDirectory, prefix: "velo-capture.tmp-")
        try? FileManager.default.removeItem(atPath: spoolFolder)
        try FileSystem.createDirectory(spoolFolder)
        // Where each source's captures end: every batch header read once, for all of them.
        let histories = try ContinuousHistory.loadAll(storage: repository.storage)
        for source in sources.map(FileSystem.absolute) where !self.sources.contains(source) {
            if discover != nil {
                do {
                    try add(source, tail: histories[source]?.tail)
                } catch {
                    Diagnostics.warn("\(source): not captured: \(Diagnostics.describe(error))")
                    leftOut.insert(source)
                }
            } else {
                try add(source, tail: histories[source]?.tail)
            }
        }
    }

    /// Opens `source` and starts capturing it from `tail`, holding its lock in the repository.
    private func add(_ source: String, tail: CaptureTail?) throws {
        let lock = try Self.lock(source, in: repository)
        if try JournalMode.ensureWAL(source, switchIfNeeded: options.setWAL) { switchedToWAL.append(source) }
        locks[source] = lock
        captures.append(
            try SourceCapture(
                path: source, storage: repository.storage, spoolFolder: spoolFolder, capFrames: options.walCapFrames,
                baseEvery: Int64(options.baseEvery.inSeconds * 1000), tail: tail))
    }

    /// The lock that keeps two replicators off one source (`locks/replicate-<source16>.json`): two streams of
    /// one source would interleave, and neither chain would continue. Taken over when its owner is gone, as the
    /// writers' lock is; its heartbeat keeps it while the replicator runs.
    /// - Throws: `.locked` naming the other replicator.
    static func lock(_ source: String, in repository: Repository) throws -> RepositoryLock {
        let key = String(repository.storage.contentAddress(Array(source.utf8)).prefix(16))
        do {
            let lock = try RepositoryLock.acquire(
                storage: repository.storage, name: StoredName(.lock, "replicate-\(key).json"), command: "velo replicate \(source)",
                timing: repository.lockTiming)
            if let stale = lock.replacedStaleOwner, let reason = lock.replacedStaleReason {
                Diagnostics.info("\(source): took over the capture lock of \(stale.summary), \(reason)")
            }
            return lock
        } catch RepositoryLock.Failure.held(_, let owner) {
            throw VeloError("\(source): already captured into \(repository.root) by \(owner.summary)", kind: .locked)
        }
    }

    /// Asks `discover` for the sources there are now: takes up the new ones, lets go of those whose file is gone.
    /// A new source's captures are looked for by its base copies' names (a LIST), and its batches read only
    /// when there are some: a tenant added to the app has none.
    public func rescan() throws {
        guard let discover else { return }
        let now = Set(try discover().map(FileSystem.absolute))
        for capture in captures where !FileSystem.exists(capture.path) {
            Diagnostics.info("\(capture.path): gone; no longer captured")
            capture.close()
            locks.removeValue(forKey: capture.path)?.release()
        }
        captures.removeAll { !FileSystem.exists($0.path) }
        var bases = Set<String>()
        try repository.storage.list(.capture) { name, _ in
            if name.name.hasSuffix(".base") { bases.insert(String(name.name.suffix(21).prefix(16))) }
        }
        for source in now.sorted() where !sources.contains(source) && !leftOut.contains(source) && FileSystem.exists(source) {
            do {
                let key = String(repository.storage.contentAddress(Array(source.utf8)).prefix(16))
                let tail = bases.contains(key) ? try ContinuousHistory.load(source: source, storage: repository.storage)?.tail : nil
                try add(source, tail: tail)
                Diagnostics.info("\(source): new; captured from now on")
            } catch {
                Diagnostics.warn("\(source): not captured: \(Diagnostics.describe(error))")
                leftOut.insert(source)
            }
        }
    }

    deinit {
        captures = []
        for lock in locks.values { lock.release() }
        try? FileManager.default.removeItem(atPath: spoolFolder)
    }

    /// Reads every source once.
    /// A source that cannot be read is reported (once for each new failure) and tried again at the next poll;
    /// the others go on. Only the repository failing stops the replicator (`storeBatch`).
    public func poll() throws {
        for capture in captures {
            do {
                try capture.poll(storage: repository.storage, stream: stream)
                if failing.removeValue(forKey: capture.path) != nil { Diagnostics.info("\(capture.path): read again") }
            } catch {
                if error.veloKind == .interrupted { throw error }
                let message = "\(error)"
                if failing[capture.path] != message {
                    Diagnostics.warn("\(capture.path): cannot be read, tried again at each poll: \(message)")
                }
                failing[capture.path] = message
            }
        }
    }

    /// The sources whose last poll failed, with the failure.
    public private(set) var failing: [String: String] = [:]

    /// Stores what was read since the last batch as one batch (also when nothing changed and `always`); nil
    /// when there was nothing to store. Durable when it returns.
    @discardableResult
    public func storeBatch(always: Bool = false) throws -> BatchReport? {
        var sections: [CapturedSource] = []
        var spools: [SpoolFile] = []
        var offset: Int64 = 0
        var handedOut: [(SourceCapture, [SourceCapture.Pending])] = []
        var stopsRecorded = 0
        for capture in captures {
            let taken = capture.take()
            handedOut.append((capture, taken))
            let first = sections.count
            if taken.isEmpty && always { sections.append(CapturedSource(source: capture.path, through: capture.through)) }
            for var part in taken {
                if var frames = part.section.frames, let spool = part.spool {
                    frames.offset = offset
                    offset += spool.bytes
                    part.section.frames = frames
                    spools.append(spool)
                }
                sections.append(part.section)
            }
            if let stopped = capture.stopped, sections.count > first, sections[sections.count - 1].through == stopped.through {
                sections[sections.count - 1].stopped = stopped
                stopsRecorded += 1
            }
        }
        guard !sections.isEmpty else { return nil }
        let batch = CaptureBatch(stream: stream, sequence: sequence + 1, written: SourceCapture.now, sources: sections)
        do {
            try spools.forEach { try $0.pack() }
            try CaptureObjects.write(batch, bodies: spools.map(\.path), to: repository.storage)
        } catch {
            // Nothing is lost: every source keeps what it read, and the next batch holds it.
            for (capture, taken) in handedOut { capture.giveBack(taken) }
            throw error
        }
        sequence += 1
        let report = BatchReport(
            name: batch.storedName.name, sequence: sequence, commits: sections.reduce(0) { $0 + ($1.frames?.commits.count ?? 0) },
            bases: sections.filter { $0.base != nil }.count, gaps: sections.filter { $0.gap != nil }.count)
        summary.batches += 1
        summary.commits += report.commits
        summary.bases += report.bases
        summary.gaps += report.gaps
        summary.stopsRecorded += stopsRecorded
        return report
    }

    /// Starts over the log of every source grown past the cap (`SourceCapture.sealIfNeeded`).
    /// A source whose seal fails is reported, as in `poll`, and the others go on.
    public func sealIfNeeded() throws {
        for capture in captures {
            do {
                guard try capture.sealIfNeeded(storage: repository.storage, stream: stream) else { continue }
                summary.seals += 1
                summary.longestSealMilliseconds = max(summary.longestSealMilliseconds, capture.longestSealMilliseconds)
            } catch {
                if error.veloKind == .interrupted { throw error }
                Diagnostics.warn("\(capture.path): the log could not be started over, tried again next interval: \(error)")
            }
        }
    }

    /// Polls and stores until a stop is requested (`Interruption`, or `stop` says so), then stores a last batch:
    /// every commit read is in the repository when it returns. `report` is told of each stored batch.
    public func run(report: (BatchReport) -> Void = { _ in }, until stop: () -> Bool = { false }) throws {
        let compaction = options.compaction.map { BackgroundCompaction(repository: repository, levels: $0, scratch: spoolFolder) }
        compaction?.start()
        defer {
            compaction?.stop()
            if let compaction { summary.compaction = compaction.report }
            for capture in captures { capture.close() }
        }
        let clock = ContinuousClock()
        var nextBatch = clock.now + options.interval
        var lastStored = clock.now
        var lastRead: ContinuousClock.Instant?
        var storeFailing = false
        var nextRescan = clock.now + options.rescan
        while Interruption.requestedSignal == nil && !stop() {
            if discover != nil && clock.now >= nextRescan {
                try rescan()
                nextRescan = clock.now + options.rescan
            }
            let now = clock.now
            if let lastRead {
                summary.longestBetweenReadsMilliseconds = max(summary.longestBetweenReadsMilliseconds, (now - lastRead).inSeconds * 1000)
            }
            lastRead = now
            try poll()
            if clock.now >= nextBatch {
                let heartbeat = clock.now - lastStored >= options.heartbeat
                do {
                    if let stored = try storeBatch(always: heartbeat) {
                        report(stored)
                        lastStored = clock.now
                        if storeFailing { Diagnostics.info("\(repository.root): batches stored again") }
                        storeFailing = false
                    }
                } catch {
                    if error.veloKind == .interrupted { throw error }
                    // The repository is unreachable or refused the batch: what was read waits, tried at each beat.
                    if !storeFailing {
                        Diagnostics.warn("\(repository.root): a batch could not be stored, tried again at each beat: \(error)")
                    }
                    storeFailing = true
                }
                try sealIfNeeded()
                // On a fixed beat, not an interval after this store ended: a commit waits at most one interval
                // (plus the store) whatever the store and the seals took, and the beats stay one interval apart.
                nextBatch += options.interval
                if nextBatch <= clock.now { nextBatch = clock.now + options.interval }
            }
            let wait = min(options.poll, max(.zero, nextBatch - clock.now))
            if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18) }
        }
        try poll()
        recordStops()
        if let stored = try storeBatch(always: true) { report(stored) }
    }

    /// At a graceful stop, records each source's database as of its last read (`SourceCapture.recordStop`, a
    /// read of the whole database) while `options.stopRecordBudget` lasts, so the restart can tell that nothing
    /// was committed meanwhile even when the log is gone. A source past the budget, or whose record fails, is
    /// only reported: its restart after a removed log records a gap, as after a kill.
    private func recordStops() {
        let clock = ContinuousClock()
        let deadline = clock.now + options.stopRecordBudget
        for capture in captures {
            guard clock.now < deadline else {
                Diagnostics.info(
                    "\(capture.path): its state at this stop is not recorded (the stop's \(options.stopRecordBudget) were spent)")
                continue
            }
            do {
                try capture.recordStop()
            } catch {
                Diagnostics.warn("\(capture.path): its state at this stop could not be recorded: \(Diagnostics.describe(error))")
            }
        }
    }
}
