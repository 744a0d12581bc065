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

    @Option(
        name: .long, help: ArgumentHelp("With --app, look for new tenants this often, e.g. 60s (default), 5m.", valueName: "duration"))
    var rescan: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Capture the sources of this config file (its databases, or its app's landlord and tenants) into its repository, with its continuous settings (see velo.example.json).",
            valueName: "file"), completion: .file())
    var config: String?

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var encryption: EncryptOption

    @Option(name: .long, help: ArgumentHelp("Store a batch this often, e.g. 1s, 5s (default: 1s).", valueName: "duration"))
    var interval: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read each log this often (the precision of a restore's moment), e.g. 100ms, 1s (default: 100ms).", valueName: "duration"))
    var poll: String?

    @Option(name: .long, help: ArgumentHelp("Start a log over once it holds this many frames (default: 4096).", valueName: "frames"))
    var walCapFrames: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Make a new base this often, without a gap, e.g. 6h, 1d (default): retention removes only whole chains, and a restore reads one.",
            valueName: "duration"))
    var baseEvery: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Merge batches into packs over these two spans, e.g. 1m,1h (default; a restore then reads a handful of objects); off leaves it to another replicator.",
            valueName: "span1,span2"))
    var compact: String?

    @Flag(name: .long, help: "Switch a database in rollback-journal mode to WAL (once; it stays WAL) instead of refusing it.")
    var setWal = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        for (option, value) in [("--interval", interval), ("--poll", poll), ("--base-every", baseEvery), ("--rescan", rescan)] {
            if let value { _ = try ReplicateCommand.duration(value, option: option) }
        }
        if app != nil && !db.isEmpty { throw ValidationError("--app and --db exclude each other") }
        if config != nil && (app != nil || !db.isEmpty) { throw ValidationError("--config names the sources: --db and --app exclude it") }
        if config != nil && (repository.path != nil) { throw ValidationError("--config names the repository: --repo excludes it") }
        if tenants != nil && app == nil { throw ValidationError("--tenants needs --app") }
        if let compact { _ = try ReplicateCommand.levels(compact) }
        if let walCapFrames, walCapFrames < 100 { throw ValidationError("--wal-cap-frames \(walCapFrames): at least 100") }
    }

    /// The config's continuous settings (or the defaults), with the options given here over them.
    func options(over base: Replicator.Options) throws -> Replicator.Options {
        var options = base
        if let interval { options.interval = try Self.duration(interval, option: "--interval") }
        if let poll { options.poll = try Self.duration(poll, option: "--poll") }
        if let walCapFrames { options.walCapFrames = walCapFrames }
        if let baseEvery { options.baseEvery = try Self.duration(baseEvery, option: "--base-every") }
        if let rescan { options.rescan = try Self.duration(rescan, option: "--rescan") }
        if let compact { options.compaction = try Self.levels(compact) }
        if setWal { options.setWAL = true }
        return options
    }

    /// `100ms`, or a span such as `1s`, `5m`.
    static func duration(_ text: String, option: String) throws -> Duration {
        guard let duration = Replicator.Options.duration(text) else {
            throw ValidationError("\(option) \(text): expected a duration such as 100ms, 1s or 5m")
        }
        return duration
    }

    /// `100ms`, `1s`, `1.5s`.
    static func text(_ duration: Duration) -> String {
        let ms = Int64(duration.inSeconds * 1000)
        return ms < 1000 ? "\(ms)ms" : ms % 1000 == 0 ? "\(ms / 1000)s" : String(format: "%.1fs", Double(ms) / 1000)
    }

    /// `1m,1h` (the second a whole number of the first), or `off`.
    static func levels(_ text: String) throws -> ContinuousCompaction.Levels? {
        do { return try ContinuousCompaction.Levels.parse(text) } catch let error as VeloError {
            throw ValidationError("--compact \(error.message)")
        }
    }

    func run() throws {
        var sources = db
        var discover: (() throws -> [String])?
        let settings = try config.map { try RunConfig.load(path: $0) }
        if let settings {
            (sources, discover) = try settings.capturedSources()
        } else if let app {
            // Every SQLite source of the app velo can capture, asked again every --rescan for new tenants.
            let layout = try AppLayout.load(app)
            let selectors = tenants?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let find = { try layout.sources(selecting: selectors).compactMap { $0.notCovered == nil ? $0.databasePath : nil } }
            sources = try find()
            discover = find
        }
        if sources.isEmpty, app == nil, let env = ProcessInfo.processInfo.environment["VELO_DB"], !env.isEmpty { sources = [env] }
        guard !sources.isEmpty || discover != nil else {
            throw VeloError("name a database: --db PATH (or set VELO_DB), --app DIR or --config FILE", kind: .usage)
        }
        let repo: Repository
        if let settings {
            let password = repository.passwordFile.map { PasswordSource.file($0) } ?? settings.password ?? repository.password
            repo = try Repository.open(settings.repository, create: true, access: RepositoryAccess(password: password))
        } else {
            repo = try repository.open(create: true, encrypt: encryption.encrypt)
        }
        let options = try self.options(over: settings?.continuous ?? Replicator.Options())
        let replicator = try Replicator(sources: sources, repository: repo, options: options, discover: discover)
        if !output.quiet && !output.json {
            FileHandle.standardError.write(
                Data(
                    "velo replicate: capturing \(replicator.sources.joined(separator: ", ")) into \(repo.root) every \(Self.text(options.interval)) (reading every \(Self.text(options.poll))); stop with Ctrl-C or SIGTERM\n"
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
            "stopped: \(summary.batches) batches stored, \(summary.commits) commits, \(summary.bases) bases, \(summary.gaps) gaps; \(summary.seals) seals, the longest held the write lock \(String(format: "%.1f", summary.longestSealMilliseconds)) ms; at most \(Int(summary.longestBetweenReadsMilliseconds)) ms between two reads; \(summary.compaction.level1Packs + summary.compaction.level2Packs) packs made of \(summary.compaction.batchesMerged) batches; \(summary.stopsRecorded) of \(replicator.sources.count) databases recorded as they stand, for the restart"
        )
    }
}
