import ArgumentParser
import Foundation
import VeloKit

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Say exactly what restoring a snapshot into a target would do, and what blocks it, without writing.",
        discussion:
            "Checks the archive, the target, the schema version, every collection's table (and what an overwrite changes in it), rows (insert, conflicting, identical, only in the target), NULLs into NOT NULL columns, unique collisions (on the indexes the restore creates too), stale relations, foreign keys, secrets bound to APP_KEY and free disk space. Exit status 0 when the restore can proceed, 3 when something blocks. --out saves the plan with fingerprints of the archive and the target; 'velo restore --plan' refuses it once either changed."
    )

    @OptionGroup var repository: RepositoryOption

    @Argument(help: ArgumentHelp("An id, id prefix, 'latest', or the path of an archive file.", valueName: "snapshot"))
    var snapshot: String?

    @OptionGroup var restore: RestoreOptionsGroup
    @OptionGroup var appTarget: AppTargetOptions
    @OptionGroup var filter: SnapshotFilterOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Plan the newest snapshot at or before this time; within what 'velo replicate' captured of the source (--source, or the target's), the database as of this very moment.",
            valueName: "time"))
    var at: String?

    @Option(name: .long, help: ArgumentHelp("Save the plan (JSON) for 'velo restore --plan'.", valueName: "plan.json"))
    var out: String?

    @OptionGroup var lock: BusyTimeoutOption
    @OptionGroup var output: OutputOptions

    func run() throws {
        let repo = try repository.openIfGiven()
        if let app = appTarget.app {
            guard restore.target == nil else { throw VeloError("--app and --target exclude each other", kind: .usage) }
            // A tenant's moment within continuous capture: its database as then (files are not captured).
            if let at, snapshot == nil, let tenant = appTarget.tenant, let repo,
                let database = try AppLayout.load(app).sources(selecting: [tenant]).first?.databasePath,
                let history = try ContinuousHistory.load(source: database, storage: repo.storage),
                !history.startsAfter(try Timestamp.parseMilliseconds(at, option: "--at"))
            {
                let moment = try MomentSnapshot(source: database, at: try Timestamp.parseMilliseconds(at, option: "--at"), repository: repo)
                try withExtendedLifetime(moment) { try show(moment.selected, into: database, repository: repo, moment: moment) }
                return
            }
            try planIntoApp(app, repository: repo)
            return
        }
        var moment: MomentSnapshot?  // kept until the plan ends: its folder holds the snapshot
        defer { withExtendedLifetime(moment) {} }
        let selected: SelectedSnapshot
        switch (snapshot, at) {
        case (let snapshot?, nil):
            selected = try SelectedSnapshot.resolve(snapshot, repository: repo, filter: filter.filter(tenant: appTarget.tenant))
        case (nil, let at?):
            guard let repo else { throw VeloError("--at needs a repository: pass --repo DIR or set VELO_REPO", kind: .usage) }
            let time = try Timestamp.parseMilliseconds(at, option: "--at")
            let target = try restore.targetPath()
            let histories = try ContinuousHistory.loadAll(storage: repo.storage)
            let source = FileSystem.absolute(filter.source ?? target)
            if let history = histories[source] ?? (filter.source == nil && histories.count == 1 ? histories.values.first : nil),
                !history.startsAfter(time)
            {
                moment = try MomentSnapshot(source: history.source, at: time, repository: repo)
                selected = moment!.selected
            } else {
                selected = .catalogued(
                    try PointInTime.select(at: time / 1000, source: filter.source ?? target, in: repo), repository: repo)
            }
        default: throw VeloError("name a snapshot or --at TIME (not both), or --tenant NAME with --app DIR", kind: .usage)
        }
        try show(selected, into: try restore.targetPath(), repository: repo, moment: moment)
    }

    /// Plans `selected` into `target` and prints the plan (saving it with --out); exit 3 when it blocks.
    func show(_ selected: SelectedSnapshot, into target: String, repository repo: Repository?, moment: MomentSnapshot?) throws {
        guard moment == nil || out == nil else {
            throw VeloError("a plan of a captured moment is not saved: 'velo restore --at' plans it again", kind: .usage)
        }
        let plan = try RestorePlanner.plan(
            selected, target: target, options: try restore.options(), busyTimeout: lock.timeout, repository: repo,
            progress: TerminalProgress("plan"))
        if let out { try plan.save(to: out) }
        if output.json {
            try Output.json(plan)
        } else {
            if let moment { print(Self.describe(moment)) }
            print(PlanCommand.render(plan))
        }
        if !plan.canProceed { throw ExitStatus.foundDamage }
    }

    /// The line that says which moment a snapshot made for a plan or a restore stands for.
    static func describe(_ moment: MomentSnapshot) -> String {
        let r = moment.restore
        return
            "moment: \(r.source) as of \(r.at) (\(r.lastCommitSeen.map { "last commit seen \($0)" } ?? "its base copy")), read from continuous capture into snapshot \(SnapshotID.short(moment.selected.id ?? "")) made for this command"
    }

    /// `--app`: the database plan and the files plan of the tenant's snapshot into the app.
    func planIntoApp(_ app: String, repository repo: Repository?) throws {
        let resolved = try appTarget.resolve(
            app: app, snapshot: snapshot, at: try at.map { try Timestamp.parse($0, option: "--at") }, repository: repo,
            filter: filter.filter(tenant: appTarget.tenant))
        let planned = try TenantRestore.plan(
            resolved.selected, into: resolved.target, manifest: resolved.manifest, options: try restore.options(), repository: repo,
            busyTimeout: lock.timeout, progress: TerminalProgress("plan"))
        let plan = planned.database
        if let out { try plan.save(to: out) }
        if output.json {
            try Output.json(planned)
        } else {
            print(PlanCommand.render(plan))
            if let files = planned.files { print(AppTargetOptions.render(files)) }
            if let note = planned.note { print("note: \(note)") }
        }
        if !plan.canProceed { throw ExitStatus.foundDamage }
    }

    static func render(_ plan: RestorePlan) -> String {
        var lines = ["plan: snapshot \(SnapshotID.short(plan.snapshot)) into \(plan.target)\(plan.targetExists ? "" : " (new database)")"]
        let byCollection = Dictionary(grouping: plan.findings, by: { $0.collection ?? "" })
        for key in byCollection.keys.sorted() {
            lines.append(key.isEmpty ? "" : "\n\(key):")
            for f in byCollection[key]! {
                let examples = f.examples.isEmpty ? "" : " (e.g. \(f.examples.prefix(3).joined(separator: "; ")))"
                lines.append(
                    "  \(f.severity.rawValue.uppercased().padding(toLength: 7, withPad: " ", startingAt: 0)) \(f.message)\(examples)")
            }
        }
        let rows = plan.tables.map { t in
            [
                t.table, t.strategy.rawValue, t.action, Output.grouped(t.insert), Output.grouped(t.conflicting),
                Output.grouped(t.identical), Output.grouped(t.onlyInTarget),
            ]
        }
        if !rows.isEmpty {
            lines.append("")
            lines.append(Output.table(["TABLE", "STRATEGY", "ACTION", "INSERT", "CONFLICT", "IDENTICAL", "ONLY IN TARGET"], rows))
        }
        let totals = plan.tables.reduce(into: [0, 0, 0, 0]) { t, p in
            t[0] += p.insert; t[1] += p.conflicting; t[2] += p.identical; t[3] += p.onlyInTarget
        }
        lines.append("")
        lines.append(
            "total: \(Output.grouped(totals[0])) rows to insert, \(Output.grouped(totals[1])) conflicting, \(Output.grouped(totals[2])) identical, \(Output.grouped(totals[3])) only in the target"
        )
        lines.append(plan.canProceed ? "the restore can proceed" : "BLOCKED: \(plan.blockers.count) blockers")
        return lines.joined(separator: "\n")
    }
}
