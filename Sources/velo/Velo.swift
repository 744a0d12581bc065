import ArgumentParser
import VeloKit

@main
struct Velo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "velo",
        abstract: "Backups, audits, retention and schema health for Veloquent databases.",
        discussion: """
            VELO_DB and VELO_REPO are the defaults for --db and --repo.

            Exit status: 0 success, 1 error, 3 damage found (verify) or an unhealthy schema (schema corrupt).
            """,
        version: VeloVersion.current,
        subcommands: [
            InitCommand.self, BackupCommand.self, SnapshotsCommand.self, InspectCommand.self, VerifyCommand.self,
            CatCommand.self, DiffCommand.self, PruneCommand.self, SchemaCommand.self,
            UnlockCommand.self, InfoCommand.self, DemoCommand.self,
        ]
    )
}
