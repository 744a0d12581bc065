import Foundation
import VeloKit

/// Progress of a long operation, drawn on one stderr line at most ten times a second, and only when stderr
/// is a terminal (and not `--quiet`): pipes, files and cron mail stay clean.
final class TerminalProgress: ProgressObserver {
    let label: String
    let total: Int?
    let enabled: Bool
    let started = ContinuousClock.now
    var lastDraw = ContinuousClock.now - .seconds(1)
    var drewSomething = false

    /// - Parameters:
    ///   - label: what is being done, e.g. "backup".
    ///   - total: the number of units when known, for a percentage.
    ///   - enabled: defaults to whether stderr is a terminal.
    init(_ label: String, total: Int? = nil, enabled: Bool = TerminalProgress.shown) {
        self.label = label
        self.total = total
        self.enabled = enabled
    }

    /// False under `--quiet`.
    nonisolated(unsafe) static var allowed = true

    /// True when progress is drawn: stderr is a terminal and `--quiet` was not given.
    static var shown: Bool { allowed && isatty(2) == 1 }

    func report(done: Int, unit: String, detail: String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = now
        var line = "\(label): "
        if !detail.isEmpty { line += detail + " " }
        line += Output.grouped(done)
        if let total, total > 0 {
            line += "/\(Output.grouped(total)) \(unit) (\(min(100, done * 100 / total))%)"
        } else {
            line += " \(unit)"
        }
        let elapsed = now - started
        line += String(format: "  %.0fs", Double(elapsed.components.seconds))
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        drewSomething = true
    }

    /// Clears the progress line.
    func finish() {
        guard enabled, drewSomething else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drewSomething = false
    }
}
