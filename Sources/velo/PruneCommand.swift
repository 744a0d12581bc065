import ArgumentParser
import VeloKit

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove the snapshots a retention policy does not keep, saying why each one stays.",
        discussion: """
            The policy is a JSON file (see retention.example.json); its rules follow restic's 'forget' exactly, per group of snapshots (by source database by default). The newest snapshot of a group and snapshots timed in the future are always kept; a snapshot whose last verification failed fills no slot.
            """)

    @OptionGroup var repository: RepositoryOption

    @Option(name: .long, help: ArgumentHelp("The retention policy (JSON).", valueName: "file"))
    var policy: String

    @Flag(name: .long, help: "Show what would be removed, and why each snapshot is kept, without removing anything.")
    var dryRun = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let repo = try repository.open()
        let rules = try RetentionPolicy.load(path: policy)
        let report = try Prune.run(repository: repo, policy: rules, dryRun: dryRun)
        if output.json {
            try Output.json(report)
        } else {
            print(PruneCommand.render(report))
        }
    }

    static func render(_ report: Prune.Report) -> String {
        var lines: [String] = []
        let kept = Dictionary(report.keep.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let removed = Dictionary(report.remove.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for group in report.groups.keys.sorted() {
            lines.append(group.isEmpty ? "all snapshots:" : "\(group):")
            var rows: [[String]] = []
            for id in report.groups[group]! {
                if let k = kept[id] {
                    rows.append(["keep", SnapshotID.short(id), k.time, k.reasons.joined(separator: ", ")])
                } else if let r = removed[id] {
                    rows.append([report.dryRun ? "would remove" : "remove", SnapshotID.short(id), r.time, Output.bytes(r.bytes)])
                }
            }
            lines.append(Output.table(["ACTION", "ID", "TIME", "REASONS"], rows))
        }
        let verb = report.dryRun ? "would remove" : "removed"
        lines.append(
            "\(report.keep.count) kept, \(report.remove.count) \(verb), \(Output.bytes(report.bytesFreed)) \(report.dryRun ? "would be " : "")freed"
        )
        if let continuous = report.continuous {
            let windows = continuous.windowStarts.sorted { $0.key < $1.key }.map { "\($0.key) from \($0.value ?? "nothing left")" }
            let what =
                "\(continuous.batchesRemoved) batches, \(continuous.packsRemoved) packs and \(continuous.basesRemoved) bases, \(Output.bytes(continuous.bytesFreed))"
            lines.append(
                "continuous capture: \(report.dryRun ? "would remove" : "removed") \(what); \(continuous.batchesKept) batches and \(continuous.packsKept) packs kept; restorable: \(windows.isEmpty ? "nothing captured" : windows.joined(separator: ", "))"
            )
        }
        if !report.damaged.isEmpty {
            lines.append(
                "damaged (last verification failed, fill no slot): \(report.damaged.map(SnapshotID.short).joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}
