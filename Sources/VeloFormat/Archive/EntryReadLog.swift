import Synchronization

/// Counts how often each archive entry's data is read (keyed `<archive path>#<entry path>`), across every
/// reader, while a log is installed: how a test proves that a restore reads the archive once more than its plan
/// did, not three times. Off (nil) in normal runs, where it costs one check per entry.
package final class EntryReadLog: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    package init() {}

    private static let installed = Mutex<EntryReadLog?>(nil)

    /// The log readers report to, when one is installed.
    package static var current: EntryReadLog? { installed.withLock { $0 } }

    package func noteRead(_ entry: String) { counts.withLock { $0[entry, default: 0] += 1 } }

    /// Reads per entry path so far.
    package var reads: [String: Int] { counts.withLock { $0 } }

    /// Runs `body` with this log installed, and returns the reads it made.
    package func recording<T>(_ body: () throws -> T) rethrows -> (T, [String: Int]) {
        counts.withLock { $0.removeAll() }
        Self.installed.withLock { $0 = self }
        defer { Self.installed.withLock { $0 = nil } }
        let result = try body()
        return (result, reads)
    }
}
