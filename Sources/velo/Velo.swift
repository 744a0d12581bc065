import ArgumentParser
import Foundation
import Logging
import VeloKit

@main
struct Velo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "velo",
        abstract: "Backups, audits, restores, retention and schema health for Veloquent databases.",
        discussion: """
            VELO_DB and VELO_REPO are the defaults for --db and --repo.

            Exit status: 0 success, 1 error, 3 damage found (verify), a plan that blocks (plan, restore, transfer import) or an unhealthy schema (schema corrupt), 11 the repository is locked by another velo, 64 usage error, 130 interrupted; velo status: 0 ok, 1 warning, 2 critical, 3 unknown.
            """,
        version: VeloVersion.current,
        subcommands: [
            InitCommand.self, BackupCommand.self, SnapshotsCommand.self, InspectCommand.self, VerifyCommand.self,
            CatCommand.self, DiffCommand.self, PlanCommand.self, RestoreCommand.self, PruneCommand.self, SchemaCommand.self,
            UnlockCommand.self, InfoCommand.self, DemoCommand.self, TransferCommand.self, ExportCommand.self, StatusCommand.self,
            RunCommand.self, ServeCommand.self, CopyCommand.self, KeyCommand.self, ReplicateCommand.self,
        ]
    )

    /// Parses, runs, and turns any error into one line on stderr (or a JSON object on stdout under `--json`) and
    /// its exit status (`ExitStatus`).
    static func main() {
        ProcessMemory.returnLargeBuffers()
        let arguments = Array(CommandLine.arguments.dropFirst())
        let json = arguments.contains("--json")
        let quiet = arguments.contains("--quiet") || arguments.contains("-q")
        let verbose = arguments.contains("--verbose") || arguments.contains("-v")
        LoggingSystem.bootstrap { label in
            var handler = StderrLogHandler(label: label)
            handler.logLevel = quiet ? .error : (verbose ? .debug : .warning)
            return handler
        }
        TerminalProgress.allowed = !quiet
        Diagnostics.useErrorWording { ErrorAdvice.message(for: $0) }
        // `serve` stops gracefully on SIGTERM/SIGINT (the running requests finish), so its operations are not
        // interrupted by Interruption's handlers.
        if arguments.first != "serve" { Interruption.install() }
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            exit(withError: error)  // help, version, and usage errors (64), as argument-parser words them
        }
        do {
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let error where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            Velo.exit(withError: error)  // help requested by `velo help`, validation errors (64)
        } catch {
            let kind = Interruption.requestedSignal != nil ? ErrorKind.interrupted : error.veloKind
            // A monitoring check that cannot answer is UNKNOWN (3) to its caller, whatever went wrong.
            let status = command is MonitoringCheck && kind != .usage ? ExitStatus.unknown : ExitStatus.of(kind)
            let message = ErrorAdvice.message(for: error)
            if json, let text = try? Output.jsonText(ErrorReport(error, kind: kind, status: status, message: message)) {
                FileHandle.standardOutput.write(Data(text.utf8))
            } else {
                FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            }
            Foundation.exit(status)
        }
    }
}

/// swift-log's handler for the CLI: `velo: warning: …` lines on stderr.
struct StderrLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let word = event.level >= .error ? "error" : (event.level >= .warning ? "warning" : "info")
        FileHandle.standardError.write(Data("velo: \(word): \(event.message)\n".utf8))
    }
}
