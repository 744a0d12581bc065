import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Rounds on velo's own clock, for `velo serve --config`: a round (`Round.run`) at start and then every `period`,
/// one after another on a thread of their own, so two never overlap in this process (and `RoundLock` keeps them
/// apart from a `velo run` started by cron). Each round decides what is due, so the period only bounds how late a
/// due backup can start.
package final class RoundClock: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopping = false
    private var running = false
    private var thread: Thread?

    package init() {}

    /// Starts the rounds. `report` is told of each round's outcome (or of the error that stopped it).
    package func start(
        config: RunConfig, period: Duration = .seconds(60), report: @escaping @Sendable (Result<Round.Report, any Error>) -> Void
    ) {
        let thread = Thread { [self] in
            while true {
                condition.lock()
                if stopping { condition.unlock(); return }
                running = true
                condition.unlock()
                let outcome = Result { try Round.run(config: config) }
                condition.lock()
                running = false
                condition.broadcast()
                if stopping { condition.unlock(); return }
                condition.unlock()
                report(outcome)
                condition.lock()
                let deadline = Date().addingTimeInterval(period.inSeconds)
                while !stopping && Date() < deadline { _ = condition.wait(until: deadline) }
                condition.unlock()
            }
        }
        thread.name = "velo-rounds"
        self.thread = thread
        thread.start()
    }

    /// Whether a round is running now.
    package var isRunning: Bool {
        condition.lock()
        defer { condition.unlock() }
        return running
    }

    /// Starts no new round and waits for the running one to end; with `interrupt`, it is asked to stop at its
    /// next checkpoint (what it had begun is undone, as after SIGINT).
    package func stop(interrupt: Bool) {
        condition.lock()
        stopping = true
        condition.broadcast()
        if running && interrupt { Interruption.request(SIGTERM) }
        while running { condition.wait() }
        condition.unlock()
    }
}
