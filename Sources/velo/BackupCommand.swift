import ArgumentParser
import Foundation
import VeloKit

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a consistent snapshot of a Veloquent database into a repository.",
        discussion: """
            Veloquent may keep writing: velo reads inside one read transaction. In WAL mode writers are never blocked; in rollback-journal mode they wait while velo reads the rows (as they would for sqlite3 .dump, which takes longer), not while the archive is finished. Laravel's cache and queue tables are left out unless --include-framework is given (their DDL is always kept). The repository is created if it does not exist.
            """)

    @OptionGroup var database: DatabaseOption
    @OptionGroup var repository: RepositoryOption
    @OptionGroup var encryption: EncryptOption

    @Option(name: .long, help: ArgumentHelp("Tag the snapshot (repeatable).", valueName: "tag"))
    var tag: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Back up only these collections' records (comma-separated); metadata and system tables are always kept.", valueName: "a,b"))
    var collections: String?

    @Option(name: .long, help: ArgumentHelp("Leave this table's rows out (repeatable).", valueName: "table"))
    var excludeTable: [String] = []

    @Flag(name: .long, help: "Also back up Laravel's cache and queue tables.")
    var includeFramework = false

    @Flag(name: .long, help: "Metadata only: schema, collections and migrations, no rows of records or system tables.")
    var noRecords = false

    @Flag(
        name: .long,
        help:
            "Write a self-contained full archive (format version 1) instead of an incremental snapshot, whose rows and uploaded files are stored once in the repository."
    )
    var full = false

    @Option(
        name: .long,
        help:
            "zstd compression level, 1 to 19; at 3 velo compresses archives and pack frames with tuned parameters (fast matching, a window of up to 4 MiB)."
    )
    var level: Int32 = 3

    @Option(
        name: .long,
        help:
            "Compression threads: 0 compresses on the reading thread, 1 on a thread of its own, 2 or more on that many zstd workers; an incremental backup with any also hashes its segments on a thread of its own, and always writes its segment lists on one (default: the number of cores, at most 2)."
    )
    var threads: Int32?

    @Option(name: .long, help: ArgumentHelp("The snapshot's time, ISO 8601 with an offset (default: now).", valueName: "time"))
    var time: String?

    @Option(name: .long, help: ArgumentHelp("After the backup, prune the repository with this retention policy.", valueName: "policy.json"))
    var prune: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Store a Veloquent transfer export as a snapshot instead (its time is exported_at); no --db.", valueName: "file")
    )
    var fromPayload: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Back up a whole Veloquent app instead of --db: the landlord and every tenant (or the single tenant), each its own snapshot with its uploaded files.",
            valueName: "dir"), completion: .directory)
    var app: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "With --app: only these tenants (names, domains or ids; 'landlord' for the landlord database).", valueName: "a,b"))
    var tenants: String?

    @Option(name: .long, help: "With --app: how many tenants to back up at once (default: the number of cores).")
    var jobs: Int?

    @Flag(
        name: .long,
        help:
            "With --app: a tenant velo cannot back up (not SQLite, an S3 disk whose bucket .env does not name) is reported but does not fail the run."
    )
    var skipUncovered = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...19).contains(level) else { throw ValidationError("--level must be 1 to 19 (zstd levels), not \(level)") }
        if let threads, threads < 0 { throw ValidationError("--threads must be 0 or more, not \(threads)") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be 1 or more, not \(jobs)") }
        if app == nil && (tenants != nil || jobs != nil || skipUncovered) {
            throw ValidationError("--tenants, --jobs and --skip-uncovered go with --app")
        }
    }

    struct BackupAndPrune: Encodable {
        var backup: Backup.Result
        var prune: Prune.Report
    }

    func run() throws {
        FreedMemory.returnPromptly()
        if let fromPayload {
            guard database.db == nil else { throw VeloError("--from-payload and --db exclude each other", kind: .usage) }
            guard FileManager.default.fileExists(atPath: fromPayload) else { throw VeloError("\(fromPayload): no such file") }
            let repo = try repository.open(create: true, encrypt: encryption.encrypt)
            let result = try PayloadSnapshot.run(payload: fromPayload, repository: repo, tags: tag)
            if output.json { try Output.json(result); return }
            let rows = result.rows.values.reduce(0, +)
            print(
                "snapshot \(result.id) saved from \(fromPayload) (time \(result.time)): \(Output.grouped(rows)) rows in \(result.rows.count) tables, \(Output.bytes(result.bytes))"
            )
            print("  \(result.archive)")
            return
        }
        if let app {
            guard database.db == nil else { throw VeloError("--app and --db exclude each other", kind: .usage) }
            guard fromPayload == nil else { throw VeloError("--app and --from-payload exclude each other", kind: .usage) }
            try backUpApp(app)
            return
        }
        let dbPath = try database.path()
        let checked = try Backup.checkSource(dbPath, busyTimeout: database.timeout)
        let options = try backupOptions()
        // Read the policy first: a bad policy file fails before any work is done.
        let policy = try prune.map { try RetentionPolicy.load(path: $0) }
        // Created only now: a backup that cannot happen (a bad source, time or policy) leaves no repository behind.
        let repo = try repository.open(create: true, encrypt: encryption.encrypt)
        let result = try withExtendedLifetime(checked) {
            try Backup.run(databasePath: dbPath, repository: repo, options: options, progress: TerminalProgress("backup"))
        }
        let pruned = try policy.map { try Prune.run(repository: repo, policy: $0, dryRun: false) }
        if output.json {
            if let pruned { try Output.json(BackupAndPrune(backup: result, prune: pruned)) } else { try Output.json(result) }
        } else {
            let rows = result.rows.values.reduce(0, +)
            print(
                "snapshot \(result.id) saved: \(Output.grouped(rows)) rows in \(result.rows.count) tables, \(Output.bytes(result.bytes)), \(String(format: "%.1f", result.seconds)) s"
            )
            print("  \(result.archive)")
            if !result.notVeloquent.isEmpty {
                print("  also kept, not Veloquent's: \(result.notVeloquent.joined(separator: ", "))")
            }
            if let pruned { print(PruneCommand.render(pruned)) }
        }
    }

    /// The snapshot options shared by `--db` and `--app`.
    func backupOptions() throws -> Backup.Options {
        var options = Backup.Options()
        options.tags = tag
        options.collections = collections.map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        options.excludeTables = excludeTable
        options.includeFramework = includeFramework
        options.records = !noRecords
        options.level = level
        options.incremental = !full
        if let threads { options.workers = threads }
        options.busyTimeout = database.timeout
        if let time {
            let seconds = try Timestamp.parse(time, option: "--time")
            options.time = seconds
        }
        return options
    }

    struct AppBackupAndPrune: Encodable {
        var backup: AppBackup.Report
        var prune: Prune.Report
    }

    /// `--app`: every source of the app, a summary table, exit 1 naming the sources that failed (or are not
    /// covered, unless --skip-uncovered).
    func backUpApp(_ app: String) throws {
        let layout = try AppLayout.load(app)
        let selectors = tenants.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        let sources = try layout.sources(selecting: selectors, busyTimeout: database.timeout)
        var options = AppBackup.Options()
        options.tenants = selectors
        if let jobs { options.jobs = jobs }
        options.backup = try backupOptions()
        let policy = try prune.map { try RetentionPolicy.load(path: $0) }
        let repo = try repository.open(create: true, encrypt: encryption.encrypt)
        let report = try AppBackup.run(
            layout: layout, sources: sources, repository: repo, options: options,
            progress: TerminalProgress("backup", total: sources.count))
        // Retention works per source, so one prune covers every tenant's snapshots.
        let pruned = try policy.map { try Prune.run(repository: repo, policy: $0, dryRun: false) }
        if output.json {
            if let pruned { try Output.json(AppBackupAndPrune(backup: report, prune: pruned)) } else { try Output.json(report) }
        } else {
            print(
                Output.table(
                    ["SOURCE", "KIND", "STATUS", "SNAPSHOT", "ROWS", "FILES", "SIZE", "SECONDS"],
                    report.sources.map { o in
                        [
                            o.source, o.kind, o.status.rawValue, o.snapshot.map(SnapshotID.short) ?? "-", o.rows.map(Output.grouped) ?? "-",
                            o.files.map { "\($0) (\(Output.bytes(o.fileBytes ?? 0)))" } ?? "-", o.bytes.map(Output.bytes) ?? "-",
                            String(format: "%.1f", o.seconds),
                        ]
                    }, indent: ""))
            for o in report.sources where o.status != .ok { print("\(o.source): \(o.status.rawValue): \(o.reason ?? "")") }
            let ok = report.sources.filter { $0.status == .ok }.count
            print(
                "\(ok) of \(report.sources.count) sources backed up into \(report.repository) in \(String(format: "%.1f", report.seconds)) s (\(report.jobs) at once)"
            )
            if let pruned { print(PruneCommand.render(pruned)) }
        }
        var problems: [String] = []
        if !report.failed.isEmpty { problems.append("failed: \(report.failed.joined(separator: ", "))") }
        if !report.notCovered.isEmpty && !skipUncovered {
            problems.append("not covered: \(report.notCovered.joined(separator: ", ")) (--skip-uncovered accepts them)")
        }
        if !problems.isEmpty {
            if output.json {
                // The report (with "failed" and "notCovered") is the output; a second JSON object would break it.
                FileHandle.standardError.write(Data("Error: \(layout.root): \(problems.joined(separator: "; "))\n".utf8))
                throw ExitCode(ExitStatus.failure)
            }
            throw VeloError("\(layout.root): \(problems.joined(separator: "; "))")
        }
    }
}
