import ArgumentParser
import VeloKit

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Make a realistic, deterministic Veloquent tenant database for trying velo out.",
        discussion: "Users, tags, posts (with a tags pivot table) and comments, plus superusers, settings, tokens and templates.")

    @Option(name: .long, help: ArgumentHelp("Where to write the database.", valueName: "path"), completion: .file(extensions: ["sqlite"]))
    var out: String

    @Option(name: .long, help: "How many posts to make (users: one per 20 posts, at least 20).")
    var posts: Int = 1_000

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

    @Option(name: .long, help: "Text of posts and comments: words (a short word list, compresses very well) or random (random letters, compresses about 2x).")
    var text: TextShape = .words

    @Flag(name: .long, help: "Replace the file if it exists.")
    var force = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if posts < 0 { throw ValidationError("--posts must be zero or more.") }
    }

    func run() throws {
        let demo = DemoDatabase(options: .init(posts: posts, seed: seed, journalMode: journalMode.rawValue, force: force,
                                                     text: DemoTextShape(rawValue: text.rawValue) ?? .words))
        let summary = try demo.write(to: out, progress: TerminalProgress("demo", total: posts))
        if output.json {
            try Output.json(summary)
        } else {
            let rows = summary.rows.values.reduce(0, +)
            print("\(summary.path): \(Output.grouped(rows)) rows in \(summary.rows.count) tables, \(Output.bytes(summary.bytes)), \(String(format: "%.1f", summary.seconds)) s")
        }
    }
}
