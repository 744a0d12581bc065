/// Where a long operation reports how far it is. The library only reports; the CLI draws a terminal line
/// (`TerminalProgress`), a server might count, a test might record. Updates come at most every few thousand
/// rows, on the operation's own thread.
public protocol ProgressObserver: AnyObject {
    /// `done` units of `unit` (rows, pages, MiB read) so far, with an optional detail such as the table name.
    func report(done: Int, unit: String, detail: String)
    /// `done` of about `total` units (an estimate, which `done` may pass: a backup estimates rows from each
    /// table's largest rowid), with an optional detail. The default calls `report(done:unit:detail:)`.
    func report(done: Int, total: Int, unit: String, detail: String)
    /// The operation ended: clear whatever was shown.
    func finish()
}

extension ProgressObserver {
    /// Reports `done` rows (or another `unit`), with an optional detail.
    public func update(_ done: Int, unit: String = "rows", detail: String = "") {
        report(done: done, unit: unit, detail: detail)
    }

    /// Reports `done` of about `total` rows (or another `unit`), with an optional detail.
    public func update(_ done: Int, of total: Int, unit: String = "rows", detail: String = "") {
        report(done: done, total: total, unit: unit, detail: detail)
    }

    /// Forgets the total: observers that cannot use it see only `done`.
    public func report(done: Int, total: Int, unit: String, detail: String) {
        report(done: done, unit: unit, detail: detail)
    }
}
