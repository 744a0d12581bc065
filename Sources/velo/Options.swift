import ArgumentParser
import Foundation
import VeloKit

/// `--db PATH`, defaulting to `$VELO_DB`.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The Veloquent SQLite database file (default: $VELO_DB).", valueName: "path"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another process's lock on the database.", valueName: "seconds"))
    var busyTimeout: Double = 5

    /// The busy timeout as a Duration.
    var timeout: Duration { .milliseconds(Int(max(0, busyTimeout) * 1000)) }

    /// The path given, or `$VELO_DB`, or a usage error.
    func path() throws -> String {
        if let db, !db.isEmpty { return db }
        if let env = ProcessInfo.processInfo.environment["VELO_DB"], !env.isEmpty { return env }
        throw VeloError("no database given: pass --db PATH or set VELO_DB")
    }
}

/// `--json` for listing and report commands.
struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false
}
