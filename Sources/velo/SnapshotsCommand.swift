import ArgumentParser
import Foundation
import VeloKit

struct SnapshotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List the snapshots in a repository (reads the catalog only).")

    @OptionGroup var repository: RepositoryOption

    @Option(name: .long, help: ArgumentHelp("Only snapshots with this tag (repeatable: all must match).", valueName: "tag"))
    var tag: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp("Show only the snapshot a restore as of this time would use (ISO 8601 with an offset).", valueName: "time"))
    var at: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "With --at: the database being restored (its own snapshots are preferred; default: $VELO_DB).", valueName: "path"))
    var target: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let time = try at.map { try Timestamp.parse($0, option: "--at") }  // arguments first, then files
        let repo = try repository.open()
        let catalog = try repo.catalog.scan()
        for damaged in catalog.damaged { log.warning("\(damaged); run 'velo verify --all'") }
        var entries = catalog.entries.filter { entry in tag.allSatisfy { entry.tags.contains($0) } }
        if let time {
            let source = target ?? ProcessInfo.processInfo.environment["VELO_DB"]
            entries = [try PointInTime.select(at: time, source: source, in: repo)]
        }
        let rows = entries.map { SnapshotListing($0, in: repo) }
        if output.json {
            try Output.json(rows)
            return
        }
        let encrypted = repo.isEncrypted ? " (encrypted repository)" : ""
        if rows.isEmpty {
            print("\(repo.root): no snapshots\(encrypted)")
            return
        }
        print(
            Output.table(
                ["ID", "TIME", "SOURCE", "TAGS", "COLLECTIONS", "ROWS", "SIZE", "VERIFIED"],
                rows.map { r in
                    [
                        SnapshotID.short(r.id), r.time, r.source, r.tags.joined(separator: ","), String(r.collections.count),
                        Output.grouped(r.rows), Output.bytes(r.bytes),
                        r.verifiedOK.map { ($0 ? "ok " : "DAMAGED ") + (r.verified ?? "") } ?? "never",
                    ]
                }, indent: ""))
        print("\(rows.count) snapshots, \(Output.bytes(rows.reduce(0) { $0 + $1.bytes }))\(encrypted)")
    }
}
