import CSQLite

/// SQLite's online backup API: copies a live database page by page into another connection.
/// Other connections may keep reading and writing the source between steps; the copy restarts
/// when the source changes under it, so the result is always one consistent state.
package struct OnlineBackup {
    package let source: Database
    package let destination: Database
    /// Pages copied per step; the source's lock is held only during a step.
    package var pagesPerStep: Int32 = 1024

    package init(from source: Database, to destination: Database) {
        self.source = source
        self.destination = destination
    }

    /// After this many restarts (another connection wrote to the source between steps) the rest is copied in
    /// one step, holding the source's read lock until done: with a busy writer, a stepped copy never finishes.
    package var restartsBeforeOneStep = 2

    /// Copies everything. `progress` gets (pages done, pages total) after each step.
    package func run(progress: (Int, Int) -> Void = { _, _ in }) throws {
        guard let backup = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            throw destination.error(code: sqlite3_errcode(destination.handle))
        }
        var rc: Int32 = SQLITE_OK
        var step = pagesPerStep
        var restarts = 0
        var lastRemaining = Int.max
        repeat {
            rc = sqlite3_backup_step(backup, step)
            let total = Int(sqlite3_backup_pagecount(backup))
            let remaining = Int(sqlite3_backup_remaining(backup))
            if remaining > lastRemaining {
                restarts += 1
                if restarts >= restartsBeforeOneStep { step = -1 }
            }
            lastRemaining = remaining
            progress(total - remaining, total)
            if Interruption.requestedSignal != nil {
                sqlite3_backup_finish(backup)
                try Interruption.check()
            }
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
                sqlite3_sleep(20)
            }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let finish = sqlite3_backup_finish(backup)
        if rc != SQLITE_DONE {
            // A full disk or a write error is the destination's; anything else (busy, corrupt) the source's.
            let primary = rc & 0xff
            let atDestination = primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_READONLY
            throw SQLiteError(code: rc, message: String(cString: sqlite3_errstr(rc)), path: atDestination ? destination.path : source.path)
        }
        if finish != SQLITE_OK {
            throw destination.error(code: finish)
        }
    }
}
