import Logging
import Synchronization

/// Warnings for the person running velo go through swift-log (label `velo`): the CLI prints them as one line on
/// stderr (`--quiet` hides them), a server routes them to its own log handler.
package enum Diagnostics {
    static let logger = Logger(label: "velo")

    package static func warn(_ message: String) {
        logger.warning("\(message)")
    }

    /// How an error reads inside a warning. A library error says what is wrong and which remedy gets past it; the
    /// front door installs the wording that names its own flags for that remedy (`useErrorWording`), so a warning
    /// advises as the same failure would when it stops a command.
    package static func describe(_ error: any Error) -> String {
        wording.withLock { $0 }(error)
    }

    /// Installs how `describe` words errors (the CLI's, at start-up).
    package static func useErrorWording(_ words: @escaping @Sendable (any Error) -> String) {
        wording.withLock { $0 = words }
    }

    private static let wording = Mutex<@Sendable (any Error) -> String>({ "\($0)" })

    /// What velo does step by step (`velo -v`). Logged at `.debug`, which swift-log's default handler hides,
    /// so a program that never bootstraps logging is not flooded.
    package static func info(_ message: String) {
        logger.debug("\(message)")
    }
}
