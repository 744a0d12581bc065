import Foundation
import VeloKit

/// Progress of a long operation, drawn on one stderr line at most ten times a second, and only when stderr
/// is a terminal (and not `--quiet`): pipes, files and cron mail stay clean. With a total (given here or
/// reported by the operation) the line shows a percentage and an estimate of the time left.
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
        draw(done: done, total: total, unit: unit, detail: detail)
    }

    func report(done: Int, total: Int, unit: String, detail: String) {
        draw(done: done, total: total, unit: unit, detail: detail)
    }

    private func draw(done: Int, total: Int?, unit: String, detail: String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = now
        let elapsed = now - started
        let seconds = elapsed.inSeconds
        let line = Self.line(label: label, done: done, total: total, unit: unit, detail: detail, elapsed: seconds)
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        drewSomething = true
    }

    /// The progress line: `backup: _velo_posts 120,000/1,000,000 rows (12%)  3s, about 22s left`. The time
    /// left assumes the rate so far holds; it is left out until a second has passed (the first rate is noise)
    /// and once `done` reaches an estimated total.
    static func line(label: String, done: Int, total: Int?, unit: String, detail: String, elapsed: Double) -> String {
        var line = "\(label): "
        if !detail.isEmpty { line += detail + " " }
        line += Output.grouped(done)
        var left: Double?
        if let total, total > 0 {
            line += "/\(Output.grouped(total)) \(unit) (\(min(100, done * 100 / total))%)"
            if done > 0, done < total, elapsed >= 1 {
                left = elapsed * Double(total - done) / Double(done)
            }
        } else {
            line += " \(unit)"
        }
        line += String(format: "  %.0fs", elapsed.rounded(.down))
        if let left { line += String(format: ", about %.0fs left", left.rounded(.up)) }
        return line
    }

    /// Clears the progress line.
    func finish() {
        guard enabled, drewSomething else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drewSomething = false
    }
}
