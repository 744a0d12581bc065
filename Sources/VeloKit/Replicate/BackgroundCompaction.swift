import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Compaction on a thread of its own beside `velo replicate`'s reading loop: merging a span reads its batches
/// and writes a pack, which must not delay the next reads of the logs (commits are stamped when read, and a
/// batch is due every interval). Runs `ContinuousCompaction` once each level-1 span is over and has settled (a
/// LIST a minute), while it holds the repository's compaction lock (taken when free, tried again each round when
/// another process holds it); after a failure, every `check` until it works again.
final class BackgroundCompaction: @unchecked Sendable {
    private let repository: Repository
    private let compaction: ContinuousCompaction
    private let check: Duration
    private let levels: ContinuousCompaction.Levels
    private let condition = NSCondition()
    private var stopping = false
    private var finished = false
    private var lock: RepositoryLock?
    /// What the runs did, in total.
    private(set) var total = ContinuousCompaction.Report()

    init(repository: Repository, levels: ContinuousCompaction.Levels, scratch: String) {
        self.repository = repository
        compaction = ContinuousCompaction(storage: repository.storage, levels: levels, scratch: scratch)
        check = min(.seconds(10), levels.span1 / 2)
        self.levels = levels
    }

    func start() {
        let thread = Thread { [self] in
            loop()
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.name = "velo-compaction"
        thread.start()
    }

    /// Asks the thread to stop after the step it is in, and waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
        lock?.release()
        lock = nil
    }

    private func loop() {
        var failing: String?
        while true {
            condition.lock()
            // Once a span is over and has settled: a run between two would find nothing new (and list for it).
            let now = Date().timeIntervalSince1970
            let span = levels.span1.inSeconds
            let due = (now / span).rounded(.down) * span + span + levels.settle.inSeconds + 0.5
            if !stopping && failing == nil { _ = condition.wait(until: Date(timeIntervalSince1970: due)) }
            if !stopping && failing != nil { _ = condition.wait(until: Date(timeIntervalSinceNow: check.inSeconds)) }
            let stop = stopping
            condition.unlock()
            if stop || Interruption.requestedSignal != nil { return }
            do {
                if lock == nil { lock = try ContinuousCompaction.lock(repository, command: "velo replicate (compaction)") }
                guard lock != nil else { continue }
                let report = try compaction.run(now: Int64(Date().timeIntervalSince1970 * 1000))
                record(report)
                if failing != nil { Diagnostics.info("\(repository.root): compaction works again") }
                failing = nil
            } catch {
                if error.veloKind == .interrupted { return }
                let message = "\(error)"
                if failing != message {
                    Diagnostics.warn(
                        "\(repository.root): compaction failed, tried again in \(Interval(seconds: max(1, Int64(check.inSeconds)))): \(message)"
                    )
                }
                failing = message
            }
        }
    }

    private func record(_ report: ContinuousCompaction.Report) {
        condition.lock()
        defer { condition.unlock() }
        total.level1Packs += report.level1Packs
        total.level2Packs += report.level2Packs
        total.batchesMerged += report.batchesMerged
        total.batchesRemoved += report.batchesRemoved
        total.bytes += report.bytes
    }

    /// `total`, read safely from another thread.
    var report: ContinuousCompaction.Report {
        condition.lock()
        defer { condition.unlock() }
        return total
    }
}
