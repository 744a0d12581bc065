import Foundation
import VeloFormat

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
