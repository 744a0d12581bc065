import ArgumentParser
import Foundation
import VeloKit

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a snapshot into a target database: planned first, then all or nothing.",
        discussion:
            "A missing target gets a full restore into a new file (the archive's exact DDL, rows, then indexes). An existing Veloquent database is merged by primary key under the conflict strategy: velo takes its write lock, plans again (or checks --plan), snapshots it into the repository (tag pre-restore) unless --no-safety-snapshot, imports everything in one transaction, clears Veloquent's cached collection metadata and checks integrity and foreign keys before committing. Exit status 3 when the plan blocks."
    )

    @OptionGroup var repository: RepositoryOption

    @Argument(help: ArgumentHelp("An id, id prefix, 'latest', or the path of an archive file.", valueName: "snapshot"))
    var snapshot: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Restore the newest snapshot at or before this time (ISO 8601 with an offset); within what 'velo replicate' captured of the source, the database exactly as of this time: a new --target gets it whole, an existing one (with --yes) has its rows merged.",
            valueName: "time"))
    var at: String?

    @OptionGroup var restore: RestoreOptionsGroup
    @OptionGroup var appTarget: AppTargetOptions
    @OptionGroup var filter: SnapshotFilterOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Do exactly what this saved plan says, refusing it if the archive or the target changed since.", valueName: "plan.json"))
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
        if let app = appTarget.app {
            guard restore.target == nil else { throw VeloError("--app and --target exclude each other", kind: .usage) }
            // A tenant's moment within continuous capture: its database exactly as then; its files are not captured.
            if let text = at, snapshot == nil, let tenant = appTarget.tenant, let repo,
                let database = try AppLayout.load(app).sources(selecting: [tenant]).first?.databasePath
            {
                var moment: MomentSnapshot?
                defer { withExtendedLifetime(moment) {} }
                switch try restoreFromCapture(text, repository: repo, target: database, source: database) {
                case .restored:
                    if !output.json { print("note: uploaded files are not captured continuously; they were left as they are") }
                    return
                case .moment(let snapshot):
                    moment = snapshot
                    try merge(snapshot.selected, into: database, repository: repo, moment: snapshot)
                    if !output.json { print("note: uploaded files are not captured continuously; they were left as they are") }
                    return
                case .notCaptured: break
                }
            }
            try restoreIntoApp(app, time: time, repository: repo)
            return
        }
        let target = try restore.targetPath()
        let selected: SelectedSnapshot
        var moment: MomentSnapshot?  // kept until the restore ends: its folder holds the snapshot
        defer { withExtendedLifetime(moment) {} }
        switch (snapshot, at) {
        case (let s?, nil): selected = try SelectedSnapshot.resolve(s, repository: repo, filter: filter.filter(tenant: appTarget.tenant))
        case (nil, let text?):
            guard let repo, let time else { throw VeloError("--at needs a repository: pass --repo DIR or set VELO_REPO") }
            guard filter.tag.isEmpty, appTarget.tenant == nil else {
                throw VeloError(
                    "--at picks the newest snapshot of one source (--source, or the target's): --tag and --tenant do not apply",
                    kind: .usage)
            }
            switch try restoreFromCapture(text, repository: repo, target: target) {
            case .restored: return
            case .moment(let snapshot):
                moment = snapshot
                selected = snapshot.selected
            case .notCaptured:
                selected = .catalogued(try PointInTime.select(at: time, source: filter.source ?? target, in: repo), repository: repo)
            }
        default: throw VeloError("name a snapshot or --at TIME (not both)")
        }
        try merge(selected, into: target, repository: repo, moment: moment)
    }

    /// Restores `selected` into `target` (a new file, or merged into an existing one with --yes), as any
    /// snapshot; `moment` when it stands for a moment of continuous capture.
    func merge(_ selected: SelectedSnapshot, into target: String, repository repo: Repository?, moment: MomentSnapshot?) throws {
        if FileManager.default.fileExists(atPath: target) && !yes {
            throw VeloError("\(target) exists: restoring merges the snapshot into it; review 'velo plan', then pass --yes")
        }
        let saved = try plan.map { try Restore.SavedPlan(path: $0) }
        if let moment, !output.json { print(PlanCommand.describe(moment)) }
        let result = try Restore.run(
            selected, target: target, options: try restore.options(), repository: repo, savedPlan: saved,
            safetySnapshot: !noSafetySnapshot, busyTimeout: lock.timeout, progress: TerminalProgress("restore"))
        if output.json {
            try Output.json(result)
            return
        }
        print(
            "restored snapshot \(SnapshotID.short(result.snapshot)) into \(result.target)\(result.created ? " (new database)" : "") in \(String(format: "%.1f", result.seconds)) s"
        )
        for m in result.metadata { print("  collection \(m.collection): \(m.action)") }
        print(
            Output.table(
                ["TABLE", "INSERTED", "UPDATED", "SKIPPED"],
                result.records.keys.sorted().map { t in
                    let c = result.records[t]!
                    return [t, Output.grouped(c.inserted), Output.grouped(c.updated), Output.grouped(c.skipped)]
                }))
        if let safety = result.safetySnapshot, let undo = result.undo {
            print("safety snapshot \(safety) (tag pre-restore); undo: \(undo)")
        }
    }

    enum CaptureRestore {
        /// Restored into a new file.
        case restored
        /// The moment as a snapshot, to merge into the existing target as any snapshot is.
        case moment(MomentSnapshot)
        /// Not captured, or before the capture starts: snapshots answer.
        case notCaptured
    }

    /// `--at` within the window of continuous capture (`velo replicate`) of the source (`--source`, the target's,
    /// or the only one captured): into a new file, the database exactly as of that moment; into an existing one
    /// (with --yes), the moment as a snapshot, merged by primary key with a safety snapshot first, as any
    /// snapshot is. `.notCaptured` when the repository holds no capture of the source, or the moment is before
    /// it starts (snapshots answer then).
    func restoreFromCapture(
        _ text: String, repository repo: Repository, target: String, source named: String? = nil
    ) throws
        -> CaptureRestore
    {
        let time = try Timestamp.parseMilliseconds(text, option: "--at")
        let histories = try ContinuousHistory.loadAll(storage: repo.storage)
        let named = named ?? filter.source
        let source = FileSystem.absolute(named ?? target)
        guard let history = histories[source] ?? (named == nil && histories.count == 1 ? histories.values.first : nil),
            !history.startsAfter(time)
        else { return .notCaptured }
        if FileSystem.exists(target) {
            guard yes else {
                throw VeloError(
                    "\(target) exists: restoring \(history.source) as of \(PointInTimeError.format(time)) into it merges that moment's rows by primary key; review 'velo plan --at', then pass --yes",
                    remedy: .restoreIntoNewFile)
            }
            return .moment(try MomentSnapshot(source: history.source, at: time, repository: repo))
        }
        let result = try PointInTimeRestore.run(
            history: history, at: time, into: target, repository: repo, progress: TerminalProgress("restore"))
        if output.json {
            try Output.json(result)
            return .restored
        }
        let seen = result.lastCommitSeen.map { "the last commit seen at or before it, at \($0)" } ?? "its base copy (no commit after it)"
        print(
            "restored \(result.source) as of \(result.at) into \(result.target) (new database) in \(String(format: "%.1f", result.seconds)) s: \(seen); \(Output.grouped(result.commitsApplied)) commits, \(Output.grouped(result.framesApplied)) pages from \(result.objectsRead) objects; integrity_check ok"
        )
        return .restored
    }

    /// `--app`: the tenant's database and its files, as one operation (`TenantRestore.run`).
    func restoreIntoApp(_ app: String, time: Int64?, repository repo: Repository?) throws {
        let resolved = try appTarget.resolve(
            app: app, snapshot: snapshot, at: time, repository: repo, filter: filter.filter(tenant: appTarget.tenant))
        let target = resolved.target
        if FileManager.default.fileExists(atPath: target.database) && !yes {
            throw VeloError("\(target.database) exists: restoring merges the snapshot into it; review 'velo plan', then pass --yes")
        }
        let restored = try TenantRestore.run(
            resolved.selected, into: target, manifest: resolved.manifest, options: try restore.options(), repository: repo,
            savedPlan: try plan.map { try Restore.SavedPlan(path: $0) }, safetySnapshot: !noSafetySnapshot, busyTimeout: lock.timeout,
            progress: TerminalProgress("restore"))
        let result = restored.database
        let filesPlan = restored.files
        if output.json {
            try Output.json(restored)
            return
        }
        print(
            "restored snapshot \(SnapshotID.short(result.snapshot)) into \(result.target)\(result.created ? " (new database)" : "") in \(String(format: "%.1f", result.seconds)) s"
        )
        let rows = result.records.values.reduce(into: [0, 0, 0]) { t, c in
            t[0] += c.inserted; t[1] += c.updated; t[2] += c.skipped
        }
        print("  rows: \(Output.grouped(rows[0])) inserted, \(Output.grouped(rows[1])) updated, \(Output.grouped(rows[2])) skipped")
        if let filesPlan {
            print(
                "  files into \(filesPlan.root): \(filesPlan.count(.add)) added, \(filesPlan.count(.replace)) replaced, \(filesPlan.count(.keep)) kept (other content, skip), \(filesPlan.count(.unchanged)) unchanged"
            )
        }
        if let safety = result.safetySnapshot, let undo = result.undo {
            print("safety snapshot \(safety) (tag pre-restore); undo: \(undo)")
        }
        if let note = target.note { print("note: \(note)") }
    }
}
