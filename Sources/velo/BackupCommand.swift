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

    @Option(name: .long, help: ArgumentHelp("Tag the snapshot (repeatable).", valueName: "tag"))
    var tag: [String] = []

    @Option(name: .long, help: ArgumentHelp("Back up only these collections' records (comma-separated); metadata and system tables are always kept.", valueName: "a,b"))
    var collections: String?

    @Option(name: .long, help: ArgumentHelp("Leave this table's rows out (repeatable).", valueName: "table"))
    var excludeTable: [String] = []

    @Flag(name: .long, help: "Also back up Laravel's cache and queue tables.")
    var includeFramework = false

    @Flag(name: .long, help: "Metadata only: schema, collections and migrations, no rows of records or system tables.")
    var noRecords = false

    @Flag(name: .long, help: "Write a self-contained full archive (format version 1) instead of an incremental snapshot, whose rows are stored once in the repository.")
    var full = false

    @Option(name: .long, help: "zstd compression level, 1 to 19.")
    var level: Int32 = 3

    @Option(name: .long, help: "Compression threads: 0 compresses on the reading thread, 1 on a thread of its own, 2 or more on that many zstd workers (default: the number of cores, at most 2).")
    var threads: Int32?

    @Option(name: .long, help: ArgumentHelp("The snapshot's time, ISO 8601 with an offset (default: now).", valueName: "time"))
    var time: String?

    @Option(name: .long, help: ArgumentHelp("After the backup, prune the repository with this retention policy.", valueName: "policy.json"))
    var prune: String?

    @Option(name: .long, help: ArgumentHelp("Store a Veloquent transfer export as a snapshot instead (its time is exported_at); no --db.", valueName: "file"))
    var fromPayload: String?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...19).contains(level) else { throw ValidationError("--level must be 1 to 19 (zstd levels), not \(level)") }
        if let threads, threads < 0 { throw ValidationError("--threads must be 0 or more, not \(threads)") }
    }

    struct BackupAndPrune: Encodable {
        var backup: Backup.Result
        var prune: Prune.Report
    }

    func run() throws {
        if let fromPayload {
            guard database.db == nil else { throw VeloError("--from-payload and --db exclude each other", kind: .usage) }
            guard FileManager.default.fileExists(atPath: fromPayload) else { throw VeloError("\(fromPayload): no such file") }
            let repo = try repository.open(create: true)
            let result = try PayloadSnapshot.run(payload: fromPayload, repository: repo, tags: tag)
            if output.json { try Output.json(result); return }
            let rows = result.rows.values.reduce(0, +)
            print("snapshot \(result.id) saved from \(fromPayload) (time \(result.time)): \(Output.grouped(rows)) rows in \(result.rows.count) tables, \(Output.bytes(result.bytes))")
            print("  \(result.archive)")
            return
        }
        let dbPath = try database.path()
        try Backup.checkSource(dbPath, busyTimeout: database.timeout)
        var options = Backup.Options()
        options.tags = tag
        options.collections = collections.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
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
        // Read the policy first: a bad policy file fails before any work is done.
        let policy = try prune.map { try RetentionPolicy.load(path: $0) }
        // Created only now: a backup that cannot happen (a bad source, time or policy) leaves no repository behind.
        let repo = try repository.open(create: true)
        let result = try Backup.run(databasePath: dbPath, repository: repo, options: options, progress: TerminalProgress("backup"))
        let pruned = try policy.map { try Prune.run(repository: repo, policy: $0, dryRun: false) }
        if output.json {
            if let pruned { try Output.json(BackupAndPrune(backup: result, prune: pruned)) } else { try Output.json(result) }
        } else {
            let rows = result.rows.values.reduce(0, +)
            print("snapshot \(result.id) saved: \(Output.grouped(rows)) rows in \(result.rows.count) tables, \(Output.bytes(result.bytes)), \(String(format: "%.1f", result.seconds)) s")
            print("  \(result.archive)")
            if !result.notVeloquent.isEmpty {
                print("  also kept, not Veloquent's: \(result.notVeloquent.joined(separator: ", "))")
            }
            if let pruned { print(PruneCommand.render(pruned)) }
        }
    }
}
