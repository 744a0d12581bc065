import Foundation
import Synchronization
import Testing

/// The in-process test servers answer while every thread of Swift's cooperative pool is held by blocking work,
/// as synchronous tests of other suites hold them (see `ServerExecutor`).
@Suite struct ServerExecutorTests {
    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func add() { value.add(1, ordering: .sequentiallyConsistent) }
        var count: Int { value.load(ordering: .sequentiallyConsistent) }
    }

    @Test func theServerAnswersWhileTheCooperativePoolIsHeld() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let token = try await server.login()
        // One blocker per thread of the pool. This task holds one thread until its request suspends it, so all
        // but one are running (counted) before the request is sent, and the last takes this task's thread.
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let running = Counter()
        let hold: UInt32 = 3_000_000
        for _ in 0..<threads {
            Task.detached {
                running.add()
                usleep(hold)
            }
        }
        let deadline = Date().addingTimeInterval(30)
        while running.count < threads - 1 && Date() < deadline { usleep(1_000) }
        #expect(running.count >= threads - 1, "the blockers started")
        let started = Date()
        // Held threads cannot answer in 1.5 s: only the server's own threads can.
        let reply = try await server.request("GET", "/api/schema/orphans", token: token, timeout: 1.5)
        #expect(reply.status == 200)
        #expect(Date().timeIntervalSince(started) >= 1.5, "the pool was held meanwhile")
    }
}
