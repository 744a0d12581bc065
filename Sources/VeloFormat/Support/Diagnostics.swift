import Logging

/// Warnings for the person running velo go through swift-log (label `velo`): the CLI prints them as one line on
/// stderr (`--quiet` hides them), a server routes them to its own log handler.
package enum Diagnostics {
    static let logger = Logger(label: "velo")

    package static func warn(_ message: String) {
        logger.warning("\(message)")
    }

    /// What velo does step by step (`velo -v`). Logged at `.debug`, which swift-log's default handler hides,
    /// so a program that never bootstraps logging is not flooded.
    package static func info(_ message: String) {
        logger.debug("\(message)")
    }
}
