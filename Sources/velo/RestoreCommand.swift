import ArgumentParser
import Foundation
import VeloKit

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a snapshot into a target database: planned first, then all or nothing.",
        discussion: "A missing target gets a full restore into a new file (the archive's exact DDL, rows, then indexes). An existing Veloquent database is merged by primary key under the conflict strategy: velo takes its write lock, plans again (or checks --plan), snapshots it into the repository (tag pre-restore) unless --no-safety-snapshot, imports everything in one transaction, clears Veloquent's cached collection metadata and checks integrity and foreign keys before committing. Exit status 3 when the plan blocks.")

    @OptionGroup var repository: RepositoryOption

    @Argument(help: ArgumentHelp("An id, id prefix, 'latest', or the path of an archive file.", valueName: "snapshot"))
    var snapshot: String?

    @Option(name: .long, help: ArgumentHelp("Restore the newest snapshot at or before this time (ISO 8601 with an offset).", valueName: "time"))
    var at: String?

    @OptionGroup var restore: RestoreOptionsGroup

    @Option(name: .long, help: ArgumentHelp("Do exactly what this saved plan says, refusing it if the archive or the target changed since.", valueName: "plan.json"))
    var plan: String?

    @Flag(name: .long, help: "Do not snapshot the target before changing it.")
    var noSafetySnapshot = false

    @Flag(name: .long, help: "Confirm changing an existing database (review 'velo plan' first).")
    var yes = false

    @OptionGroup var lock: BusyTimeoutOption
    @OptionGroup var output: OutputOptions

    func run() throws {
        let time = try at.map { try Timestamp.parse($0, option: "--at") }  // arguments first, then files
        let repo = try repository.openIfGiven()
        let target = try restore.targetPath()
        let selected: SelectedSnapshot
        switch (snapshot, at) {
        case (let s?, nil): selected = try SelectedSnapshot.resolve(s, repository: repo)
        case (nil, _?):
            guard let repo, let time else { throw VeloError("--at needs a repository: pass --repo DIR or set VELO_REPO") }
            selected = .catalogued(try PointInTime.select(at: time, source: target, in: repo), repository: repo)
        default: throw VeloError("name a snapshot or --at TIME (not both)")
        }
        if FileManager.default.fileExists(atPath: target) && !yes {
            throw VeloError("\(target) exists: restoring merges the snapshot into it; review 'velo plan', then pass --yes")
        }
        let saved = try plan.map { try Restore.SavedPlan(path: $0) }
        let result = try Restore.run(selected, target: target, options: try restore.options(), repository: repo, savedPlan: saved,
                                     safetySnapshot: !noSafetySnapshot, busyTimeout: lock.timeout, progress: TerminalProgress("restore"))
        if output.json {
            try Output.json(result)
            return
        }
        print("restored snapshot \(SnapshotID.short(result.snapshot)) into \(result.target)\(result.created ? " (new database)" : "") in \(String(format: "%.1f", result.seconds)) s")
        for m in result.metadata { print("  collection \(m.collection): \(m.action)") }
        print(Output.table(["TABLE", "INSERTED", "UPDATED", "SKIPPED"], result.records.keys.sorted().map { t in
            let c = result.records[t]!
            return [t, Output.grouped(c.inserted), Output.grouped(c.updated), Output.grouped(c.skipped)]
        }))
        if let safety = result.safetySnapshot, let undo = result.undo { print("safety snapshot \(safety) (tag pre-restore); undo: \(undo)") }
    }
}
