import Foundation

/// A request to stop (SIGINT, SIGTERM), checked by every long loop of the data path. A stop is an error like any
/// other: writers delete their partial files, restores roll back, locks are released on the way out, and the
/// error's kind is `.interrupted`. Signals are taken by a dispatch source, never in signal context.
public enum Interruption {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var requested: Int32?
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    /// When the first signal came (uptime in ns).
    nonisolated(unsafe) private static var firstAt: UInt64 = 0

    /// Routes SIGINT and SIGTERM to a stop request. A second signal ends the process at once with `128 + signal`,
    /// unless it comes within a second of the first: that is the same stop delivered twice (GNU `timeout` signals
    /// its child and then its whole process group), not a person insisting.
    public static func install(onSecondSignal: @escaping @Sendable (Int32) -> Never = { exit(128 + $0) }) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                let now = DispatchTime.now().uptimeNanoseconds
                lock.lock()
                let again = requested != nil && now - firstAt >= 1_000_000_000
                if requested == nil {
                    requested = signalNumber
                    firstAt = now
                }
                lock.unlock()
                if again { onSecondSignal(signalNumber) }
            }
            source.resume()
            lock.lock()
            sources.append(source)
            lock.unlock()
        }
    }

    /// Asks the running operation to stop, as a signal does.
    public static func request(_ signalNumber: Int32 = SIGINT) {
        lock.lock()
        if requested == nil { requested = signalNumber }
        lock.unlock()
    }

    /// The signal that asked to stop, if any.
    public static var requestedSignal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    /// Throws `.interrupted` once a stop was requested.
    /// - Throws: `VeloError` of kind `.interrupted`.
    public static func check() throws {
        if let number = requestedSignal {
            throw VeloError(
                "interrupted by \(number == SIGTERM ? "SIGTERM" : "SIGINT"): stopped cleanly, nothing half-written is left",
                kind: .interrupted)
        }
    }
}
