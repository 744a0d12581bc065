import ArgumentParser
import VeloKit

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two snapshots: collection schema changes, and rows added, removed and changed per table.")

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var filter: SnapshotFilterOptions

    @Argument(help: ArgumentHelp("The older snapshot.", valueName: "snapshot-a"))
    var first: String

    @Argument(help: ArgumentHelp("The newer snapshot.", valueName: "snapshot-b"))
    var second: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let repo = try repository.openIfGiven()
        let a = try SelectedSnapshot.resolve(first, repository: repo, filter: filter.filter())
        let b = try SelectedSnapshot.resolve(second, repository: repo, filter: filter.filter())
        let diff = try SnapshotDiff.compare(a, b, progress: TerminalProgress("diff"))
        if output.json {
            try Output.json(diff)
            return
        }
        print("from \(SnapshotID.short(diff.a.id)) (\(diff.a.time)) to \(SnapshotID.short(diff.b.id)) (\(diff.b.time))")
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
