import Foundation

/// Progress of a long operation, drawn on one stderr line at most ten times a second, and only when stderr
/// is a terminal: pipes, files and cron mail stay clean.
public final class Progress {
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
    public init(_ label: String, total: Int? = nil, enabled: Bool = Progress.stderrIsTerminal) {
        self.label = label
        self.total = total
        self.enabled = enabled
    }

    /// True when stderr is a terminal.
    public static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Reports `done` units of `unit` (rows, bytes, pages) with an optional detail such as the table name.
    public func update(_ done: Int, unit: String = "rows", detail: String = "") {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = now
        var line = "\(label): "
        if !detail.isEmpty { line += detail + " " }
        line += Progress.grouped(done)
        if let total, total > 0 {
            line += "/\(Progress.grouped(total)) \(unit) (\(min(100, done * 100 / total))%)"
        } else {
            line += " \(unit)"
        }
        let elapsed = now - started
        line += String(format: "  %.0fs", Double(elapsed.components.seconds))
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        drewSomething = true
    }

    /// Clears the progress line.
    public func finish() {
        guard enabled, drewSomething else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drewSomething = false
    }

    /// `1234567` as `1,234,567`.
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return n < 0 ? "-" + out : out
    }
}
