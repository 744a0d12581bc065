import ArgumentParser
import Foundation
import VeloKit

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Do one round of whatever a config file says is due: backups, prune, verification, metrics.",
        discussion: """
            What cron or a systemd timer calls (see velo.example.json and docs/COMMANDS.md, "Scheduled rounds"). A source is backed up when its newest snapshot is at least backup_every old; then the retention policy prunes; then the snapshots not verified for verify_every are verified, newest first; then the snapshots are copied to the other repositories the config lists (each pruned by the same policy); then the Prometheus textfile is written. One source failing, or one repository unreachable, does not stop the others. Two rounds on one repository never run at once: the second exits 11. Exit status: 0 when everything succeeded, 1 when a backup, the prune, a copy or the metrics failed (naming them), 3 when verification found damage.
            """)

    @Option(name: .long, help: ArgumentHelp("The config file (JSON; see velo.example.json).", valueName: "file"), completion: .file())
    var config: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let settings = try RunConfig.load(path: config)
        let report = try Round.run(config: settings, progress: { TerminalProgress($0) })
        if output.json {
            try Output.json(report)
        } else {
            print(Self.render(report))
        }
        if !report.failed.isEmpty { throw ExitCode(ExitStatus.failure) }
        if !report.damaged.isEmpty { throw ExitStatus.foundDamage }
    }

    static func render(_ report: Round.Report) -> String {
        var lines: [String] = []
        for b in report.backups {
            switch b.action {
            case "backed-up":
                lines.append(
                    "backup  \(b.tenant.map { "\($0) " } ?? "")\(b.source): snapshot \(b.snapshot.map(SnapshotID.short) ?? "?") (\(Output.bytes(b.bytes ?? 0)), \(String(format: "%.1f", b.seconds ?? 0)) s)"
                )
            case "not-covered":
                lines.append("backup  \(b.source): not covered (\(b.error ?? "?"))")
            case "not-due":
                lines.append("backup  \(b.source): not due (newest snapshot \(b.lastSnapshot ?? "?"))")
            default:
                lines.append("backup  \(b.source): FAILED: \(b.error ?? "?")")
            }
        }
        if let prune = report.prune {
            lines.append("prune   \(prune.keep.count) kept, \(prune.remove.count) removed, \(Output.bytes(prune.bytesFreed)) freed")
        } else if let error = report.pruneError {
            lines.append("prune   FAILED: \(error)")
        } else {
            lines.append("prune   no retention policy in the config")
        }
        if report.verified.isEmpty { lines.append("verify  nothing due") }
        for v in report.verified {
            lines.append(
                "verify  \(v.id.map(SnapshotID.short) ?? v.archive): \(v.ok ? "ok" : "DAMAGED: " + v.problems.joined(separator: "; "))")
        }
        for c in report.copies {
            if let error = c.error {
                lines.append("copy    \(c.repository): FAILED: \(error)")
            } else {
                lines.append(
                    "copy    \(c.repository): \(c.copied) copied (\(Output.bytes(c.bytes))), \(c.skipped) there already\(c.pruned.map { ", \($0) pruned" } ?? "")"
                )
            }
        }
        lines.append("status  \(report.status.rawValue.uppercased())\(report.prometheus.map { " (metrics written to \($0))" } ?? "")")
        if !report.failed.isEmpty { lines.append("failed: \(report.failed.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
