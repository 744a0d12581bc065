import Foundation
import VeloFormat
import VeloStorage

/// When a lock whose owner cannot be asked is stale. A lock's owner on this host is asked directly (is its
/// process alive?); one on another host (a bucket shared by several servers, a folder on NFS) cannot be, so its
/// lock carries a heartbeat: every `refreshInterval` the holder writes a small object beside the lock, and a lock
/// whose newest sign of life (the lock's own time or its heartbeat's) is older than `staleAfter` is stale, as
/// restic's locks are after 30 minutes without a refresh. The times are the storage's own (an object's
/// modification time), compared with this machine's clock: clocks may differ by up to `staleAfter` minus
/// `refreshInterval` before a live lock could be taken for a stale one.
public struct LockTiming: Sendable, Equatable {
    public var refreshInterval: Duration
    public var staleAfter: Duration

    public init(refreshInterval: Duration = .seconds(300), staleAfter: Duration = .seconds(1800)) {
        self.refreshInterval = refreshInterval
        self.staleAfter = staleAfter
    }

    /// The defaults, with `VELO_LOCK_STALE_AFTER` (a span: `30m`, `2h`, at least 2 minutes) when it is set; the
    /// refresh interval is a sixth of it, at most 5 minutes.
    /// - Throws: `VeloError` (`.usage`) naming the variable when its value is not a span of 2 minutes or more.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LockTiming {
        guard let text = environment["VELO_LOCK_STALE_AFTER"], !text.isEmpty else { return LockTiming() }
        guard let interval = Interval.parse(text), interval.seconds >= 120 else {
            throw VeloError("VELO_LOCK_STALE_AFTER=\(text): expected a span of at least 2 minutes, such as 30m or 2h", kind: .usage)
        }
        return LockTiming(refreshInterval: .seconds(min(300, interval.seconds / 6)), staleAfter: .seconds(interval.seconds))
    }

    var staleSeconds: Int64 { staleAfter.components.seconds }
}

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
