import ArgumentParser
import VeloKit

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Schema health: find drifted collections, recover them without losing rows, find and drop orphan tables.",
        subcommands: [SchemaCorruptCommand.self, SchemaRecoverCommand.self, SchemaOrphansCommand.self])
}

struct SchemaCorruptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corrupt",
        abstract: "Compare every collection's table with its metadata, and list unfinished schema jobs.",
        discussion: "Read-only. Exit status 0 when healthy (warnings allowed), 3 when something is wrong.")

    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOptions

    func run() throws {
        let db = try Database(path: try database.path(), mode: .readOnly, busyTimeout: database.timeout)
        let health = try SchemaHealth.check(db, layout: try TenantDatabase.load(db))
        if output.json {
            try Output.json(health)
        } else {
            for f in health.findings {
                print("\(f.severity.rawValue.uppercased().padding(toLength: 7, withPad: " ", startingAt: 0)) \(f.message)")
            }
            let errors = health.findings.filter { $0.severity == .error }.count
            let warnings = health.findings.filter { $0.severity == .warning }.count
            print(
                "\(health.path): \(health.healthy ? "healthy" : "NOT healthy"): \(health.collectionsChecked) collections checked, \(errors) errors, \(warnings) warnings"
            )
        }
        if !health.healthy { throw ExitStatus.foundDamage }
    }
}

struct SchemaRecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Bring a collection's table back in line with its metadata without losing a row.",
        discussion: """
            First snapshots the collection into --repo (unless --no-backup). Creates what is missing, rebuilds the table (create, copy, swap) to fix types and nullability, keeps columns the metadata does not know, refuses and names the rows when a value would not survive, removes the schema_jobs marker and clears Veloquent's cached metadata. One transaction. --dry-run runs every check and prints the exact SQL.
            """)

    @Argument(help: ArgumentHelp("The collection (name or id).", valueName: "collection"))
    var collection: String

    @OptionGroup var database: DatabaseOption
    @OptionGroup var repository: RepositoryOption

    @Flag(name: .long, help: "Do not snapshot the collection first.")
    var noBackup = false

    @Flag(name: .long, help: "Check everything and print the SQL, then roll back.")
    var dryRun = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let path = try database.path()
        guard noBackup || dryRun || repository.path != nil else {
            throw VeloError("recover changes the database: pass --repo DIR for a snapshot of the collection first, or --no-backup")
        }
        let result = try SchemaRecovery.run(
            databasePath: path, collection: collection,
            repository: noBackup ? nil : { try repository.open(create: true) }, dryRun: dryRun,
            busyTimeout: database.timeout)
        if output.json {
            try Output.json(result)
            return
        }
        if let snapshot = result.snapshot {
            print("snapshot \(snapshot) holds collection \(result.collection) as it was (tag pre-recover)")
        }
        for step in result.steps { print(step.refusal == nil ? step.sql + ";" : "-- check (\(step.refusal!)): \(step.sql);") }
        if result.steps.isEmpty { print("-- nothing to do") }
        let rows = result.rowsBefore.map { "\(Output.grouped($0)) rows" } ?? "new table"
        print(
            dryRun
                ? "dry run: every check passed (\(rows)); nothing was changed"
                : "recovered \(result.collection) (\(rows) kept); \(result.remaining.filter { $0.severity == .error }.count) errors left")
        for f in result.remaining { print("  \(f.severity.rawValue): \(f.message)") }
    }
}

struct SchemaOrphansCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orphans",
        abstract: "List (or drop) tables with the collection prefix that no collection owns; pivot tables are not orphans.",
        discussion: "Dropping needs --yes and --repo: the tables' DDL and rows are snapshotted into the repository first.")

    @OptionGroup var database: DatabaseOption
    @OptionGroup var repository: RepositoryOption

    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Drop these orphan tables.", valueName: "table"))
    var drop: [String] = []

    @Flag(name: .long, help: "Drop every orphan table.")
    var dropAll = false

    @Flag(name: .long, help: "Confirm dropping.")
    var yes = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let path = try database.path()
        let db = try Database(path: path, mode: .readOnly, busyTimeout: database.timeout)
        let orphans = try OrphanTables.list(db, layout: try TenantDatabase.load(db))
        let targets = dropAll ? orphans.map(\.table) : drop
        if targets.isEmpty && !dropAll {
            if output.json { try Output.json(orphans); return }
            if orphans.isEmpty { print("\(path): no orphan tables") }
            for o in orphans { print("\(o.table)  \(Output.grouped(o.rows)) rows") }
            return
        }
        if targets.isEmpty { print("\(path): no orphan tables"); return }
        guard yes else {
            throw VeloError("dropping \(targets.joined(separator: ", ")) needs --yes (its rows are snapshotted into --repo first)")
        }
        guard repository.path != nil else { throw VeloError("dropping needs --repo DIR: the tables are snapshotted there first") }
        let result = try OrphanTables.drop(
            targets, databasePath: path, repository: try repository.open(create: true), busyTimeout: database.timeout)
        if output.json { try Output.json(result); return }
        print("snapshot \(result.snapshot) holds \(result.dropped.joined(separator: ", ")) (tag pre-drop)")
        print("dropped \(result.dropped.joined(separator: ", "))")
    }
}
