import Synchronization

/// One destructive operation at a time per database and per repository inside this server: a second request
/// that would change the same target (or write the same repository) while the first runs is answered 409 at
/// once instead of queueing behind it. Other processes are kept out by the repository lock and SQLite's lock,
/// which VeloKit reports as `.locked` (also 409).
final class OperationGate: Sendable {
    private let busy = Mutex<[String: String]>([:])
    private let afterClaim: (@Sendable (String) async -> Void)?

    init(afterClaim: (@Sendable (String) async -> Void)? = nil) { self.afterClaim = afterClaim }

    /// A held claim; released by `release()` (idempotent).
    final class Claim: Sendable {
        private let gate: OperationGate
        private let keys: [String]
        private let released = Mutex(false)

        fileprivate init(gate: OperationGate, keys: [String]) {
            self.gate = gate
            self.keys = keys
        }

        func release() {
            let first = released.withLock { r -> Bool in
                defer { r = true }; return !r
            }
            if first { gate.busy.withLock { table in for key in keys { table[key] = nil } } }
        }

        deinit { release() }
    }

    /// Claims every key for `operation`, or throws 409 naming what holds one of them.
    func claim(_ keys: [String], for operation: String) throws -> Claim {
        let unique = Array(Set(keys))
        let holder: String? = busy.withLock { table in
            if let held = unique.compactMap({ table[$0] }).first { return held }
            for key in unique { table[key] = operation }
            return nil
        }
        if let holder {
            throw APIError(
                .conflict, "Another operation (\(holder)) is changing this database or repository; try again when it finishes.",
                hasErrorsKey: true)
        }
        return Claim(gate: self, keys: unique)
    }

    /// Runs `body` holding the keys.
    func with<T>(_ keys: [String], for operation: String, _ body: () async throws -> T) async throws -> T {
        try await run(holding: try claim(keys, for: operation), for: operation, body)
    }

    /// Runs `body` holding `claim` (taken earlier with `claim(_:for:)`, so that a 409 is answered before a
    /// streamed response begins), and releases it after.
    func run<T>(holding claim: Claim, for operation: String, _ body: () async throws -> T) async throws -> T {
        defer { claim.release() }
        await afterClaim?(operation)
        return try await body()
    }
}
