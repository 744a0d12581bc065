import Foundation
import VeloFormat
import VeloStorage

/// The heartbeat of one held lock: a timer on a queue of its own that rewrites the object `name` (beside the
/// lock, named after the lock's nonce, so that no other holder ever writes it) every `refreshInterval`. The
/// backup itself stays plain synchronous code; only this timer runs beside it. A refresh that fails is
/// reported once and tried again at the next tick; `stop()` waits for a refresh in flight, then removes the
/// object if one was written.
final class LockHeartbeat: @unchecked Sendable {
    let name: StoredName
    private let storage: any RepositoryStorage
    private let queue = DispatchQueue(label: "velo.lock-heartbeat")
    private let timer: any DispatchSourceTimer
    /// Touched on `queue` only.
    private var wrote = false
    private var failing = false

    init(storage: any RepositoryStorage, name: StoredName, interval: Duration) {
        self.storage = storage
        self.name = name
        timer = DispatchSource.makeTimerSource(queue: queue)
        let nanoseconds = Int(interval.components.seconds) * 1_000_000_000 + Int(interval.components.attoseconds / 1_000_000_000)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds))
        timer.setEventHandler { [weak self] in self?.beat() }
        timer.resume()
    }

    private func beat() {
        let json = JSONValue.object([("time", .string(Timestamp.iso8601(Timestamp.now))), ("pid", .int(Int64(getpid())))])
        do {
            try storage.save(name, Array(JSONWriter.string(json).utf8))
            wrote = true
            if failing { Diagnostics.info("\(storage.describe(name)): the lock's heartbeat is written again") }
            failing = false
        } catch {
            if !failing {
                Diagnostics.warn("\(storage.describe(name)): the lock's heartbeat could not be written (\(error)); trying again")
            }
            failing = true
        }
    }

    /// Stops the timer (waiting for a refresh in flight) and removes the heartbeat object.
    func stop() {
        timer.cancel()
        let wrote = queue.sync { self.wrote }
        if wrote { try? storage.remove(name) }
    }

    /// The heartbeat object of the lock `lock` whose bytes carry `nonce`.
    static func name(of lock: StoredName, nonce: String) -> StoredName {
        StoredName(.lock, "\(lock.name.dropLast(5)).\(nonce).heartbeat.json")
    }
}
