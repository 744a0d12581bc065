import ArgumentParser
import Foundation
import VeloKit

/// `--db PATH`, defaulting to `$VELO_DB`.
struct DatabaseOption: ParsableArguments {
    @Option(
        name: .long, help: ArgumentHelp("The Veloquent SQLite database file (default: $VELO_DB).", valueName: "path"), completion: .file())
    var db: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another process's lock on the database.", valueName: "seconds"))
    var busyTimeout: Double = 5

    /// The busy timeout as a Duration.
    var timeout: Duration { .milliseconds(Int(max(0, busyTimeout) * 1000)) }

    /// The path given, or `$VELO_DB`, or a usage error.
    func path() throws -> String {
        if let db, !db.isEmpty { return db }
        if let env = ProcessInfo.processInfo.environment["VELO_DB"], !env.isEmpty { return env }
        throw VeloError("no database given: pass --db PATH or set VELO_DB", kind: .usage)
    }
}

/// `--json`, `-q` and `-v`, on every command. Under `--json`, results and errors are JSON objects on stdout.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text (errors too: {\"error\": {\"kind\", \"message\", …}}).")
    var json = false

    @Flag(name: [.short, .long], help: "No progress and no warnings: only results and errors.")
    var quiet = false

    @Flag(name: [.short, .long], help: "Also print what velo does step by step.")
    var verbose = false

    func validate() throws {
        if quiet && verbose { throw ValidationError("--quiet and --verbose exclude each other") }
    }
}

/// `--repo DIR`, defaulting to `$VELO_REPO`.
struct RepositoryOption: ParsableArguments {
    @Option(
        name: .long, help: ArgumentHelp("The snapshot repository: a folder, or an s3: location (default: $VELO_REPO).", valueName: "dir"),
        completion: .directory)
    var repo: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Wait this long for another velo's repository lock instead of failing at once, e.g. 30s, 5m, 1h.", valueName: "duration"))
    var retryLock: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "An encrypted repository's password: this file's first line (default: $VELO_PASSWORD_FILE, else what $VELO_PASSWORD_COMMAND prints, else a prompt on a terminal).",
            valueName: "path"), completion: .file())
    var passwordFile: String?

    func validate() throws {
        if let retryLock, LockWait.parse(retryLock) == nil {
            throw ValidationError("--retry-lock \(retryLock): expected a duration such as 30s, 5m, 1h or 1h30m")
        }
    }

    /// The folder given, or `$VELO_REPO`, or nil.
    var path: String? {
        if let repo, !repo.isEmpty { return repo }
        if let env = ProcessInfo.processInfo.environment["VELO_REPO"], !env.isEmpty { return env }
        return nil
    }

    /// Where the password of an encrypted repository comes from: `--password-file`, `$VELO_PASSWORD_FILE`,
    /// `$VELO_PASSWORD_COMMAND`, the terminal, in that order; nil when there is none.
    var password: PasswordSource? { PasswordSource.given(file: passwordFile) }

    /// The repository, which must exist (or may be created, encrypted with `encrypt`).
    func open(create: Bool = false, encrypt: Bool = false) throws -> Repository {
        guard let path else { throw VeloError("no repository given: pass --repo DIR or set VELO_REPO", kind: .usage) }
        let repository = try Repository.open(path, create: create, access: RepositoryAccess(password: password, encrypt: encrypt))
        repository.lockWait = retryLock.flatMap(LockWait.parse) ?? .zero
        repository.lockTiming = try LockTiming.fromEnvironment()
        return repository
    }

    /// The repository when one was named, for commands that also accept archive paths.
    func openIfGiven() throws -> Repository? {
        guard path != nil else { return nil }
        return try open()
    }
}

/// `--retry-lock` durations: a span (`90s`, `5m`, `1h30m`) of at most a week.
enum LockWait {
    static func parse(_ text: String) -> Duration? {
        guard let interval = Interval.parse(text), interval.seconds <= 86_400 * 7 else { return nil }
        return .seconds(interval.seconds)
    }
}

/// `--busy-timeout` alone, for commands whose database is not `--db`.
struct BusyTimeoutOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another process's lock on the target.", valueName: "seconds"))
    var busyTimeout: Double = 5

    var timeout: Duration { .milliseconds(Int(max(0, busyTimeout) * 1000)) }
}

extension PasswordSource {
    /// The password the command line gives: `file` (a `--password-file`), else the environment's, else the
    /// terminal's.
    static func given(file: String?) -> PasswordSource? {
        if let file, !file.isEmpty { return .file(file) }
        return fromEnvironment() ?? terminal()
    }
}

/// `--encrypt`, for the commands that may create a repository.
struct EncryptOption: ParsableArguments {
    @Flag(
        name: .long,
        help:
            "Create the repository encrypted when it does not exist (AES-256-GCM; the password as for --password-file). An existing repository is never converted."
    )
    var encrypt = false
}
