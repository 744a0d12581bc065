import Foundation
import Synchronization
import Testing

@testable import VeloServer

/// `velo serve` runs blocking work on a bounded pool: however many requests arrive at once, at most
/// `BlockingWork.threads` blocking calls run together, and every one of them completes.
@Suite struct BlockingWorkTests {
    /// Calls running now, and the most seen at once.
    final class Gauge: Sendable {
        let state = Mutex<(now: Int, most: Int)>((0, 0))
        func enter() {
            state.withLock {
                $0.now += 1; $0.most = max($0.most, $0.now)
            }
        }
        func leave() { state.withLock { $0.now -= 1 } }
        var most: Int { state.withLock { $0.most } }
    }

    @Test func atMostThePoolsThreadsRunAtOnce() async throws {
        let gauge = Gauge()
        let calls = BlockingWork.threads * 3
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<calls {
                group.addTask {
                    try await BlockingWork.run {
                        gauge.enter()
                        usleep(20_000)
                        gauge.leave()
                        return index
                    }
                }
            }
            var all: [Int] = []
            for try await value in group { all.append(value) }
            return all
        }
        #expect(results.sorted() == Array(0..<calls))
        #expect(gauge.most <= BlockingWork.threads, "\(gauge.most) at once")
        #expect(gauge.most > 1, "the pool does run calls side by side")
    }
}
