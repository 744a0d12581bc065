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

/// `--repo DIR`, defaulting to `$VELO_REPO`.
struct RepositoryOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The snapshot repository folder (default: $VELO_REPO).", valueName: "dir"))
    var repo: String?

    /// The folder given, or `$VELO_REPO`, or nil.
    var path: String? {
        if let repo, !repo.isEmpty { return repo }
        if let env = ProcessInfo.processInfo.environment["VELO_REPO"], !env.isEmpty { return env }
        return nil
    }

    /// The repository, which must exist (or may be created).
    func open(create: Bool = false) throws -> Repository {
        guard let path else { throw VeloError("no repository given: pass --repo DIR or set VELO_REPO") }
        return try Repository.open(path, create: create)
    }

    /// The repository when one was named, for commands that also accept archive paths.
    func openIfGiven() throws -> Repository? {
        guard path != nil else { return nil }
        return try open()
    }
}

/// `--busy-timeout` alone, for commands whose database is not `--db`.
struct BusyTimeoutOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another process's lock on the target.", valueName: "seconds"))
    var busyTimeout: Double = 5

    var timeout: Duration { .milliseconds(Int(max(0, busyTimeout) * 1000)) }
}
