import ArgumentParser
import VeloKit

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Make a realistic, deterministic Veloquent tenant database (or a whole app) for trying velo out.",
        discussion: "Users, tags, posts (with a tags pivot table) and comments, plus superusers, settings, tokens and templates.")

    @Option(name: .long, help: ArgumentHelp("Where to write the database.", valueName: "path"), completion: .file(extensions: ["sqlite"]))
    var out: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Make a whole Veloquent app in this new or empty folder instead: .env, a landlord, tenant databases and their uploaded files.",
            valueName: "dir"), completion: .directory)
    var app: String?

    @Option(name: .long, help: "With --app: how many tenants (0 makes a single-tenant app).")
    var tenants: Int = 3

    @Option(name: .long, help: "With --app: posts with a cover (an uploaded file) per tenant.")
    var files: Int = 3

    @Option(
        name: .long,
        help: "How many posts to make, per tenant with --app (users: one per 20 posts, at least 20; default 1000, 200 with --app).")
    var posts: Int?

    @Option(name: .long, help: "Seed for the generator; the same seed gives the same database.")
    var seed: UInt64 = 1

    /// The journal modes a demo database can have.
    enum JournalMode: String, ExpressibleByArgument, CaseIterable {
        case delete, wal
    }

    @Option(name: .long, help: "Journal mode of the result: delete (Laravel's default) or wal.")
    var journalMode: JournalMode = .delete

    /// The shapes of demo text.
    enum TextShape: String, ExpressibleByArgument, CaseIterable {
        case words, random
    }

    @Option(
        name: .long,
        help: "Text of posts and comments: words (a short word list, compresses very well) or random (random letters, compresses about 2x)."
    )
    var text: TextShape = .words

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Make the database of an older Veloquent: the last tenant migration it has run (e.g. 2026_06_02_190000_create_ai_settings_and_agents_collection, before auth tokens could be revoked).",
            valueName: "migration"))
    var veloquentMigration: String?

    @Flag(name: .long, help: "Replace the file if it exists.")
    var force = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let posts, posts < 0 { throw ValidationError("--posts must be zero or more.") }
        if tenants < 0 || files < 0 { throw ValidationError("--tenants and --files must be zero or more.") }
        if (out == nil) == (app == nil) { throw ValidationError("give --out PATH (one database) or --app DIR (a whole app)") }
        if app != nil && veloquentMigration != nil { throw ValidationError("--veloquent-migration makes one database: use it with --out") }
    }

    func run() throws {
        if let app {
            var options = DemoApp.Options()
            options.tenants = tenants
            options.posts = posts ?? 200
            options.files = files
            options.seed = seed
            let summary = try DemoApp(options: options).write(to: app, progress: TerminalProgress("demo", total: max(tenants, 1)))
            if output.json {
                try Output.json(summary)
            } else {
                print(
                    "\(summary.app): \(tenants == 0 ? "single-tenant app" : "\(tenants) tenants"), \(summary.databases) databases, \(summary.files) uploaded files (\(Output.bytes(summary.fileBytes))), \(String(format: "%.1f", summary.seconds)) s"
                )
            }
            return
        }
        guard let out else { return }
        let posts = self.posts ?? 1_000
        var options = DemoDatabase.Options(
            posts: posts, seed: seed, journalMode: journalMode.rawValue, force: force,
            text: DemoTextShape(rawValue: text.rawValue) ?? .words)
        options.veloquentMigration = veloquentMigration
        let demo = DemoDatabase(options: options)
        let summary = try demo.write(to: out, progress: TerminalProgress("demo", total: posts))
        if output.json {
            try Output.json(summary)
        } else {
            let rows = summary.rows.values.reduce(0, +)
            print(
                "\(summary.path): \(Output.grouped(rows)) rows in \(summary.rows.count) tables, \(Output.bytes(summary.bytes)), \(String(format: "%.1f", summary.seconds)) s"
            )
        }
    }
}
