import Foundation
import Synchronization
import Testing

@testable import VeloServer

/// The in-process test servers handle requests on their own threads (`ServerExecutor`), never on Swift's
/// cooperative pool, which the suite's synchronous tests hold.
@Suite struct ServerExecutorTests {
    final class Seen: Sendable {
        let onServerThreads = Mutex<[Bool]>([])
    }

    @Test func aHandlerRunsOnTheServersOwnThreads() async throws {
        let seen = Seen()
        let server = try await TestServer(configure: { configuration in
            configuration.afterClaim = { _ in
                let here = ServerExecutor.isCurrent
                seen.onServerThreads.withLock { $0.append(here) }
            }
        })
        defer { Task { await server.stop() } }
        let token = try await server.login()
        #expect(try await server.request("POST", "/api/backups", token: token).status == 200)
        #expect(seen.onServerThreads.withLock { $0 } == [true], "the backup's handler ran on the server's threads")
        #expect(!ServerExecutor.isCurrent, "and this test does not")
    }
}
