import ArgumentParser
import Foundation
import VeloKit

/// `--db PATH`, defaulting to `$VELO_DB`.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The Veloquent SQLite database file (default: $VELO_DB).", valueName: "path"))
    var db: String?

    /// The path given, or `$VELO_DB`, or a usage error.
    func path() throws -> String {
        if let db, !db.isEmpty { return db }
        if let env = ProcessInfo.processInfo.environment["VELO_DB"], !env.isEmpty { return env }
        throw ValidationError("Missing --db (or set VELO_DB).")
    }
}

/// `--json` for listing and report commands.
struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false
}
