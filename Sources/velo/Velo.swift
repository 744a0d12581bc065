import ArgumentParser
import VeloKit

@main
struct Velo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "velo",
        abstract: "Backups, audits and restores for Veloquent databases.",
        discussion: """
            VELO_DB is the default for --db.
            Exit status: 0 success, 1 error, 3 damage found or plan blocked.
            """,
        version: VeloVersion.current,
        subcommands: [InfoCommand.self, DemoCommand.self]
    )
}
