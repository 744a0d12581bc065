import ArgumentParser
import Foundation
import VeloKit

@main
struct Velo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "velo",
        abstract: "Backups, audits, restores, retention and schema health for Veloquent databases.",
        discussion: """
            VELO_DB and VELO_REPO are the defaults for --db and --repo.

            Exit status: 0 success, 1 error, 3 damage found (verify), a plan that blocks (plan, restore) or an unhealthy schema (schema corrupt), a blocked import (transfer import).
            """,
        version: VeloVersion.current,
        subcommands: [
            InitCommand.self, BackupCommand.self, SnapshotsCommand.self, InspectCommand.self, VerifyCommand.self,
            CatCommand.self, DiffCommand.self, PlanCommand.self, RestoreCommand.self, PruneCommand.self, SchemaCommand.self,
            UnlockCommand.self, InfoCommand.self, DemoCommand.self, TransferCommand.self,
        ]
    )

    /// Runs the command; a `VeloError` exits with its own status (3 for damage or a blocked plan).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as VeloError where error.exitCode != 1 {
            FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}
