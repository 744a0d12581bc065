import Foundation
import VeloKit

/// A VeloKit operation's progress as `progress` server-sent events (`ServerSentEvent`): VeloKit reports on the
/// operation's own thread, as it does to the CLI's terminal line, and this sends at most four events a second,
/// `{"done": 120000, "total": 250000, "unit": "rows", "detail": "_velo_posts"}` (the table) (`total` null when unknown, and only an
/// estimate when known: a backup counts rows from each table's largest rowid).
final class ProgressEvents: ProgressObserver, @unchecked Sendable {
    private let continuation: AsyncStream<ServerSentEvent>.Continuation
    /// When the last event was sent (reports come from one thread at a time: no lock).
    private var lastSent: ContinuousClock.Instant?
    private static let interval = Duration.milliseconds(250)

    init(_ continuation: AsyncStream<ServerSentEvent>.Continuation) { self.continuation = continuation }

    func report(done: Int, unit: String, detail: String) { send(done: done, total: nil, unit: unit, detail: detail) }

    func report(done: Int, total: Int, unit: String, detail: String) { send(done: done, total: total, unit: unit, detail: detail) }

    func finish() {}

    private func send(done: Int, total: Int?, unit: String, detail: String) {
        let now = ContinuousClock.now
        if let lastSent, now - lastSent < Self.interval { return }
        lastSent = now
        let data: JSONValue = .object([
            ("done", .number(String(done))), ("total", total.map { .number(String($0)) } ?? .null), ("unit", .string(unit)),
            ("detail", .string(ClientText.scrub(detail))),
        ])
        continuation.yield(ServerSentEvent(event: "progress", data: data))
    }
}
