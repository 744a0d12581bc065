import ArgumentParser
import VeloKit

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a snapshot holds: format, source, collections with fields and rows, system tables, entries.")

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var filter: SnapshotFilterOptions

    @Argument(help: ArgumentHelp("An id, id prefix, 'latest', or the path of an archive file.", valueName: "snapshot"))
    var snapshot: String

    @Flag(name: .long, help: "Also list every entry with its size and checksum.")
    var entries = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let selected = try SelectedSnapshot.resolve(
            snapshot, repository: try repository.openIfGiven(), filter: filter.filter(), password: repository.password)
        let info = try Inspection.inspect(selected)
        if output.json {
            try Output.json(info)
            return
        }
        print("snapshot \(info.id)  \(info.time)  format \(info.formatVersion), velo \(info.toolVersion)")
        print("  archive  \(info.archive) (\(Output.bytes(info.archiveBytes))\(info.encrypted ? ", encrypted" : ""))")
        print("  source   \(info.source) (\(info.sourceKind), journal \(info.journalMode), SQLite \(info.sqliteVersion))")
        print("  schema   \(info.schemaVersion ?? "unknown") (\(info.migrations) migrations)")
        if let app = info.app {
            print("  app      \(app.path)\(app.tenantID.map { ", tenant \($0) \(app.tenantName ?? "")" } ?? ", landlord")")
        }
        if let inc = info.incremental {
            let share = inc.rawBytes > 0 ? Double(inc.newRawBytes) / Double(inc.rawBytes) * 100 : 0
            print(
                "  stored   incremental: \(Output.grouped(inc.newSegments)) of \(Output.grouped(inc.segments)) segments new (\(Output.bytes(inc.newRawBytes)) of \(Output.bytes(inc.rawBytes)) of rows, \(String(format: "%.1f", share))%), the rest shared; \(Output.bytes(inc.storedBytes)) of new pieces"
            )
            if !inc.changedTables.isEmpty { print("  changed  \(inc.changedTables.joined(separator: ", "))") }
            if !inc.deltaTables.isEmpty {
                print("  deltas   \(inc.deltaTables.joined(separator: ", ")) (frames compressed against older ones)")
            }
        }
        if !info.tags.isEmpty { print("  tags     \(info.tags.joined(separator: ", "))") }
        if !info.records { print("  contents metadata only (--no-records)") }
        if !info.excludedTables.isEmpty { print("  left out \(info.excludedTables.joined(separator: ", "))") }
        print("\nCollections (\(info.collections.count)):")
        var rows: [[String]] = []
        for c in info.collections {
            rows.append([
                c.name, c.type + (c.system ? " (system)" : ""), c.table, c.rows.map(Output.grouped) ?? "-",
                c.fields.map { "\($0.name):\($0.type)" }.joined(separator: " "),
            ])
            for p in c.pivots { rows.append(["  ↳ \(p.field)", "pivot", p.table, p.rows.map(Output.grouped) ?? "-", ""]) }
        }
        print(Output.table(["NAME", "TYPE", "TABLE", "ROWS", "FIELDS"], rows))
        let tables = info.systemTables + info.otherTables
        if !tables.isEmpty {
            print("\nTables outside collections (\(tables.count)):")
            print(Output.table(["TABLE", "GROUP", "ROLE", "ROWS"], tables.map { [$0.name, $0.group, $0.role, Output.grouped($0.rows)] }))
        }
        if !info.files.isEmpty {
            let shown = entries ? info.files : Array(info.files.prefix(20))
            print("\nUploaded files (\(info.files.count), \(Output.bytes(info.files.reduce(0) { $0 + $1.bytes }))):")
            print(
                Output.table(
                    ["PATH", "BYTES", "MODE", "MODIFIED"],
                    shown.map { [$0.path, Output.grouped(Int($0.bytes)), $0.mode ?? "-", $0.modified ?? "-"] }))
            if shown.count < info.files.count {
                print("  … and \(info.files.count - shown.count) more (--entries or --json lists them all)")
            }
        }
        if entries {
            print("\nEntries (\(info.entries.count)):")
            print(
                Output.table(
                    ["PATH", "BYTES", "ROWS", "SHA-256"],
                    info.entries.map { [$0.path, Output.grouped(Int($0.bytes)), $0.rows.map(Output.grouped) ?? "-", $0.sha256] }))
        }
        print(
            "\n\(Output.grouped(info.totalRows)) rows, \(Output.bytes(info.totalBytes)) uncompressed in \(info.entries.count + 1) entries")
    }
}
