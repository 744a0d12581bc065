import Foundation
import Synchronization

/// Failed logins per client address: after `burst` failures within `window` seconds, further attempts from that
/// address are refused (429) until the oldest failure leaves the window. A successful login does not clear the
/// count (an attacker's guesses stay counted). Memory is bounded: old entries are swept as requests come.
final class LoginRateLimiter: Sendable {
    private let burst: Int
    private let window: Int64
    private let failures = Mutex<[String: [Int64]]>([:])

    init(burst: Int, window: Int64) {
        self.burst = max(1, burst)
        self.window = max(1, window)
    }

    /// Seconds until `client` may try again, or nil when it may try now.
    func retryAfter(_ client: String, now: Int64 = Int64(Date().timeIntervalSince1970)) -> Int64? {
        failures.withLock { table in
            let recent = (table[client] ?? []).filter { $0 > now - window }
            table[client] = recent.isEmpty ? nil : recent
            guard recent.count >= burst, let oldest = recent.first else { return nil }
            return max(1, oldest + window - now)
        }
    }

    /// Counts a failed login of `client`.
    func recordFailure(_ client: String, now: Int64 = Int64(Date().timeIntervalSince1970)) {
        failures.withLock { table in
            if table.count > 10_000 {
                table = table.filter { $0.value.contains { $0 > now - window } }
            }
            table[client, default: []].append(now)
        }
    }
}
