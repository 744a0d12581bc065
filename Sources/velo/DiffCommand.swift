import ArgumentParser
import VeloKit

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract:
            "Compare two snapshots, or two moments of continuous capture: collection schema changes, and rows added, removed and changed per table.",
        discussion: """
            'velo diff A B' compares two snapshots; 'velo diff --at T1 --at T2 [--source DB]' compares the source as it was at two moments captured by velo replicate (each restored into a scratch folder, nothing touched).
            """)

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var filter: SnapshotFilterOptions

    @Argument(help: ArgumentHelp("The older snapshot.", valueName: "snapshot-a"))
    var first: String?

    @Argument(help: ArgumentHelp("The newer snapshot.", valueName: "snapshot-b"))
    var second: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A moment of continuous capture, twice instead of two snapshots, e.g. --at 10:58 --at 10:59 (ISO 8601).", valueName: "time"))
    var at: [String] = []

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if at.isEmpty {
            guard first != nil, second != nil else { throw ValidationError("name two snapshots, or two moments with --at T1 --at T2") }
        } else {
            guard at.count == 2, first == nil, second == nil else {
                throw ValidationError("--at compares two moments: --at T1 --at T2, without snapshots")
            }
        }
    }

    func run() throws {
        let repo = try repository.openIfGiven()
        var moments: [MomentSnapshot] = []
        let a: SelectedSnapshot
        let b: SelectedSnapshot
        if at.isEmpty {
            a = try SelectedSnapshot.resolve(first ?? "", repository: repo, filter: filter.filter())
            b = try SelectedSnapshot.resolve(second ?? "", repository: repo, filter: filter.filter())
        } else {
            guard let repo else { throw VeloError("--at reads continuous capture: name the repository with --repo", kind: .usage) }
            for text in at {
                moments.append(
                    try MomentSnapshot(source: filter.source, at: try Timestamp.parseMilliseconds(text, option: "--at"), repository: repo))
            }
            a = moments[0].selected
            b = moments[1].selected
        }
        let diff = try SnapshotDiff.compare(a, b, progress: TerminalProgress("diff"))
        if output.json {
            try Output.json(diff)
            return
        }
        if moments.count == 2 {
            let (x, y) = (moments[0].restore, moments[1].restore)
            print(
                "\(x.source) from \(x.at) (last commit seen \(x.lastCommitSeen ?? "none")) to \(y.at) (last commit seen \(y.lastCommitSeen ?? "none"))"
            )
        } else {
            print("from \(SnapshotID.short(diff.a.id)) (\(diff.a.time)) to \(SnapshotID.short(diff.b.id)) (\(diff.b.time))")
        }
        let changed = diff.collections.filter { $0.change != "unchanged" }
        print("\nCollections: \(changed.isEmpty ? "no schema changes" : "\(changed.count) changed")")
        for c in changed {
            print("  \(c.change == "added" ? "+" : c.change == "removed" ? "-" : "~") \(c.name)")
            for f in c.fieldsAdded { print("      + field \(f)") }
            for f in c.fieldsRemoved { print("      - field \(f)") }
            for f in c.fieldsChanged { print("      ~ field \(f.field): \(f.changes.joined(separator: ", "))") }
            for i in c.indexesAdded { print("      + index \(i)") }
            for i in c.indexesRemoved { print("      - index \(i)") }
            for o in c.otherChanges { print("      ~ \(o)") }
        }
        print("\nRows:")
        let rows = diff.tables.map { t -> [String] in
            let examples =
                (t.examples.added.prefix(2).map { "+" + $0 } + t.examples.removed.prefix(2).map { "-" + $0 }
                + t.examples.changed.prefix(2).map { "~" + $0 }).joined(separator: " ")
            return [
                t.table + (t.presence.map { " (\($0))" } ?? ""), Output.grouped(t.added), Output.grouped(t.removed),
                Output.grouped(t.changed), Output.grouped(t.unchanged), examples,
            ]
        }
        print(Output.table(["TABLE", "ADDED", "REMOVED", "CHANGED", "SAME", "EXAMPLES"], rows))
        if let files = diff.files {
            print(
                "\nFiles: \(files.added.count) added, \(files.removed.count) removed, \(files.changed.count) changed, \(files.unchanged) the same"
            )
            for f in files.added { print("  + \(f)") }
            for f in files.removed { print("  - \(f)") }
            for f in files.changed { print("  ~ \(f)") }
        }
    }
}
