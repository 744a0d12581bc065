import ArgumentParser
import Foundation
import VeloKit

struct ReplicateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Capture every committed transaction of databases into a repository, for restores to any moment.",
        discussion: """
            Runs until SIGINT or SIGTERM. Reads each database's write-ahead log every --poll, stamps each commit with the moment it was seen, and stores one batch for all databases every --interval, durable before the next; on a stop it stores what it read last. A first run, and a run after velo was stopped while the log was started over, stores a base copy of the database first; the time no commit is known of is recorded as a gap, never left silent. velo holds a read transaction open so no checkpoint passes what it has not read, and once a log holds --wal-cap-frames frames it takes the write lock for a moment to let a checkpoint start the log over. 'velo restore --at TIME --source DB --target NEW.sqlite' restores any moment captured. docs/FORMAT.md, "Continuous capture", has the details.
            """)

    @Option(
        name: .long, help: ArgumentHelp("A database to capture, in WAL mode (repeatable; default: $VELO_DB).", valueName: "path"),
        completion: .file())
    var db: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A Veloquent app folder: its landlord and every tenant's database, and tenants added later (--rescan).", valueName: "dir"),
        completion: .directory)
    var app: String?

    @Option(
        name: .long, help: ArgumentHelp("With --app, only these sources (landlord, or tenant names, domains or ids).", valueName: "a,b"))
    var tenants: String?

    @Option(name: .long, help: ArgumentHelp("With --app, look for new tenants this often, e.g. 60s, 5m.", valueName: "duration"))
    var rescan = "60s"

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var encryption: EncryptOption

    @Option(name: .long, help: ArgumentHelp("Store a batch this often, e.g. 1s, 5s.", valueName: "duration"))
    var interval = "1s"

    @Option(
        name: .long,
        help: ArgumentHelp("Read each log this often (the precision of a restore's moment), e.g. 100ms, 1s.", valueName: "duration"))
    var poll = "100ms"

    @Option(name: .long, help: ArgumentHelp("Start a log over once it holds this many frames.", valueName: "frames"))
    var walCapFrames = 4096

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Make a new base this often, without a gap, e.g. 6h, 1d: retention removes only whole chains, and a restore reads one.",
            valueName: "duration"))
    var baseEvery = "1d"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Merge batches into packs over these two spans, e.g. 1m,1h (a restore then reads a handful of objects); off leaves it to another replicator.",
            valueName: "span1,span2"))
    var compact = "1m,1h"

    @Flag(name: .long, help: "Switch a database in rollback-journal mode to WAL (once; it stays WAL) instead of refusing it.")
    var setWal = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        _ = try ReplicateCommand.duration(interval, option: "--interval")
        _ = try ReplicateCommand.duration(poll, option: "--poll")
        _ = try ReplicateCommand.duration(baseEvery, option: "--base-every")
        _ = try ReplicateCommand.duration(rescan, option: "--rescan")
        if app != nil && !db.isEmpty { throw ValidationError("--app and --db exclude each other") }
        if tenants != nil && app == nil { throw ValidationError("--tenants needs --app") }
        _ = try ReplicateCommand.levels(compact)
        if walCapFrames < 100 { throw ValidationError("--wal-cap-frames \(walCapFrames): at least 100") }
    }

    /// `100ms`, or a span such as `1s`, `5m`.
    static func duration(_ text: String, option: String) throws -> Duration {
        if text.hasSuffix("ms"), let ms = Int(text.dropLast(2)), ms > 0 { return .milliseconds(ms) }
        guard let seconds = Interval.parse(text)?.seconds else {
            throw ValidationError("\(option) \(text): expected a duration such as 100ms, 1s or 5m")
        }
        return .seconds(seconds)
    }

    /// `1m,1h` (the second a whole number of the first), or `off`.
    static func levels(_ text: String) throws -> ContinuousCompaction.Levels? {
        if text == "off" { return nil }
        let parts = text.split(separator: ",").map(String.init)
        guard parts.count == 2 else { throw ValidationError("--compact \(text): expected two spans such as 1m,1h, or off") }
        let first = try duration(parts[0], option: "--compact")
        let second = try duration(parts[1], option: "--compact")
        guard first >= .seconds(1), second > first, Int64(second.inSeconds * 1000) % Int64(first.inSeconds * 1000) == 0 else {
            throw ValidationError("--compact \(text): the second span must be a whole number of the first, and the first at least 1s")
        }
        return text == "1m,1h" ? ContinuousCompaction.Levels() : ContinuousCompaction.Levels(span1: first, span2: second)
    }

    func run() throws {
        var sources = db
        var discover: (() throws -> [String])?
        if let app {
            // Every SQLite source of the app velo can capture, asked again every --rescan for new tenants.
            let layout = try AppLayout.load(app)
            let selectors = tenants?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let find = { try layout.sources(selecting: selectors).compactMap { $0.notCovered == nil ? $0.databasePath : nil } }
            sources = try find()
            discover = find
        }
        if sources.isEmpty, app == nil, let env = ProcessInfo.processInfo.environment["VELO_DB"], !env.isEmpty { sources = [env] }
        guard !sources.isEmpty || app != nil else {
            throw VeloError("name a database: --db PATH (or set VELO_DB), or --app DIR", kind: .usage)
        }
        let repo = try repository.open(create: true, encrypt: encryption.encrypt)
        var options = Replicator.Options()
        options.interval = try Self.duration(interval, option: "--interval")
        options.poll = try Self.duration(poll, option: "--poll")
        options.walCapFrames = walCapFrames
        options.baseEvery = try Self.duration(baseEvery, option: "--base-every")
        options.setWAL = setWal
        options.rescan = try Self.duration(rescan, option: "--rescan")
        options.compaction = try Self.levels(compact)
        let replicator = try Replicator(sources: sources, repository: repo, options: options, discover: discover)
        if !output.quiet && !output.json {
            FileHandle.standardError.write(
                Data(
                    "velo replicate: capturing \(replicator.sources.joined(separator: ", ")) into \(repo.root) every \(interval) (reading every \(poll)); stop with Ctrl-C or SIGTERM\n"
                        .utf8))
        }
        try replicator.run { batch in
            if output.verbose && !output.json {
                // Unbuffered: under systemd each batch's line must reach the journal as it happens.
                FileHandle.standardOutput.write(
                    Data("stored \(batch.name): \(batch.commits) commits\(batch.bases > 0 ? ", \(batch.bases) base" : "")\n".utf8))
            }
        }
        let summary = replicator.summary
        if output.json {
            try Output.json(summary)
            return
        }
        print(
            "stopped: \(summary.batches) batches stored, \(summary.commits) commits, \(summary.bases) bases, \(summary.gaps) gaps; \(summary.seals) seals, the longest held the write lock \(String(format: "%.1f", summary.longestSealMilliseconds)) ms; at most \(Int(summary.longestBetweenReadsMilliseconds)) ms between two reads; \(summary.compaction.level1Packs + summary.compaction.level2Packs) packs made of \(summary.compaction.batchesMerged) batches"
        )
    }
}
