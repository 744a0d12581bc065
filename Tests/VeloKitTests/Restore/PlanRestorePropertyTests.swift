import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The property behind `velo plan`: it says exactly what `velo restore` will do. Over generated scenarios (see
/// `RestoreScenario`): the plan blocks exactly when the restore refuses, and then the target is byte-identical;
/// otherwise the restore succeeds, reports the plan's tables with counts by the documented mapping (inserted =
/// insert; updated = conflicting under overwrite; skipped = identical, plus conflicting under skip), and leaves
/// `integrity_check`, `foreign_key_check` and `schema corrupt` clean, with the archive's rows (overwrite) or the
/// target's previous rows (skip). A failing scenario is shrunk to a minimal one for the failure message.
///
/// `VELO_PROPERTY_SCENARIOS=N` and `VELO_PROPERTY_SEED=S` run more scenarios, or others.
@Suite struct PlanRestorePropertyTests {
    static let defaultScenarios = 250
    static let defaultSeed: UInt64 = 16

    @Test func thePlanPredictsTheRestore() throws {
        let environment = ProcessInfo.processInfo.environment
        let count = environment["VELO_PROPERTY_SCENARIOS"].flatMap { Int($0) } ?? Self.defaultScenarios
        let seed = environment["VELO_PROPERTY_SEED"].flatMap { UInt64($0) } ?? Self.defaultSeed
        let world = try PropertyWorld()
        var failures = 0
        for i in 0..<count {
            let scenario = RestoreScenario.generate(seed: seed &+ UInt64(i), sources: world.sources.count)
            guard let problem = world.check(scenario) else { continue }
            let (minimal, minimalProblem) = world.shrink(scenario, problem: problem)
            Issue.record(
                "the plan did not predict the restore: \(problem)\n  scenario: \(scenario)\n  shrunk to: \(minimal)\n  which fails with: \(minimalProblem)"
            )
            failures += 1
            if failures == 3 { break }
        }
        print(
            "plan/restore property: \(count) scenarios from seed \(seed): \(world.tally.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))"
        )
    }

    /// The shrinker keeps only what a failure needs: here a "failure" is any scenario whose plan blocks.
    @Test func shrinkingFindsTheMutationThatMatters() throws {
        let world = try PropertyWorld()
        var scenario = RestoreScenario.generate(seed: 1, sources: world.sources.count)
        scenario.target = .mutatedCopy
        scenario.options = RestoreOptions()
        scenario.savedPlan = false
        scenario.mutations = [
            .deleteRows(table: "_velo_posts", count: 2, offset: 0), .dropMigration,
            .updateRows(table: "_velo_tags", column: "", count: 1, offset: 0),
        ]
        let blocked: (RestoreScenario) -> String? = { s in
            (try? world.plan(s))?.canProceed == false ? "blocked" : nil
        }
        let (minimal, _) = world.shrink(scenario, problem: "blocked", check: blocked)
        #expect(minimal.mutations == [.dropMigration])
    }
}

/// Source databases with their snapshots, and the checks of one scenario.
final class PropertyWorld {
    let directory: URL
    let repository: Repository
    var sources: [(path: String, snapshot: SelectedSnapshot)] = []
    var tally: [String: Int] = [:]
    private var counter = 0

    init() throws {
        directory = Fixtures.temporaryDirectory("plan-restore-property")
        repository = try Repository.open(directory.appendingPathComponent("repo").path, create: true)
        for (posts, seed) in [(20, UInt64(3)), (32, UInt64(4))] {
            let path = directory.appendingPathComponent("source-\(seed).sqlite").path
            try DemoDatabase(options: .init(posts: posts, seed: seed)).write(to: path)
            try addSource(path)
        }
        // A real Veloquent database, when the shared fixtures are there.
        if Fixtures.available {
            let path = directory.appendingPathComponent("veloquent.sqlite").path
            try FileManager.default.copyItem(atPath: Fixtures.tenantTest, toPath: path)
            try addSource(path)
        }
    }

    private func addSource(_ path: String) throws {
        let id = try Backup.run(databasePath: path, repository: repository, options: .init()).id
        guard let entry = try repository.catalog.entries().first(where: { $0.id == id }) else {
            throw VeloError("no catalog entry for \(id)")
        }
        sources.append((path, .catalogued(entry, repository: repository)))
    }

    func targetPath(_ scenario: RestoreScenario) -> String {
        counter += 1
        return directory.appendingPathComponent("target-\(scenario.seed)-\(counter).sqlite").path
    }

    /// Makes the scenario's target and returns its path.
    func makeTarget(_ scenario: RestoreScenario) throws -> String {
        let path = targetPath(scenario)
        let source = sources[scenario.source].path
        switch scenario.target {
        case .missing:
            break
        case .source:
            try FileManager.default.copyItem(atPath: source, toPath: path)
        case .mutatedCopy, .otherDatabase:
            let copied = scenario.target == .otherDatabase ? sources[(scenario.source + 1) % sources.count].path : source
            try FileManager.default.copyItem(atPath: copied, toPath: path)
            let db = try Database(path: path, mode: .readWrite)
            try db.execute("PRAGMA foreign_keys = ON")  // as Laravel connects: deleting a collection cascades
            for mutation in scenario.mutations {
                // A mutation Veloquent would refuse on this database (or that does not apply to it) changes nothing.
                try db.execute("SAVEPOINT mutation")
                do {
                    try mutation.apply(to: db)
                    try db.execute("RELEASE mutation")
                } catch {
                    try db.execute("ROLLBACK TO mutation; RELEASE mutation")
                    count("mutation not applicable: \(mutation.description.split(separator: " ").prefix(2).joined(separator: " "))")
                }
            }
        }
        return path
    }

    func plan(_ scenario: RestoreScenario) throws -> RestorePlan {
        let target = try makeTarget(scenario)
        defer { remove(target) }
        return try RestorePlanner.plan(
            sources[scenario.source].snapshot, target: target, options: scenario.options, busyTimeout: .seconds(1))
    }

    func remove(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) }
    }

    /// The target's rows per table, by primary key (the whole row when there is none), each encoded as the archive does.
    func rows(_ path: String, tables: [String]) throws -> [String: [String: String]] {
        let db = try Database(path: path)
        let schema = try SQLiteSchema.read(from: db)
        var result: [String: [String: String]] = [:]
        for name in tables {
            guard let table = schema.table(name) else { continue }
            let columns = table.storedColumns.map(\.name)
            let key = table.primaryKey.isEmpty ? columns : table.primaryKey
            let statement = try db.prepare("SELECT \(SQL.quoteList(key + columns)) FROM \(SQL.quote(name))")
            let encoder = RecordEncoder(columnCount: key.count + columns.count)
            let buffer = ByteBuffer(capacity: 1024)
            var rows: [String: String] = [:]
            while try statement.step() {
                buffer.removeAll()
                encoder.appendRow(of: statement, to: buffer)
                let text = String(decoding: UnsafeRawBufferPointer(start: buffer.base, count: buffer.count), as: UTF8.self)
                let values = statement.row()
                rows[RowMatcher.display(values.prefix(key.count).map { RecordValue.from($0) })] = text
            }
            result[name] = rows
        }
        return result
    }

    func count(_ what: String) { tally[what, default: 0] += 1 }

    /// Checks the property on one scenario: nil when it holds, else what broke.
    func check(_ scenario: RestoreScenario) -> String? {
        do { return try checkThrowing(scenario) } catch { return "the check itself failed: \(error)" }
    }

    func checkThrowing(_ scenario: RestoreScenario) throws -> String? {
        let snapshot = sources[scenario.source].snapshot
        let target = try makeTarget(scenario)
        defer { remove(target) }
        let exists = FileManager.default.fileExists(atPath: target)
        var healthyBefore = true
        if exists {
            let db = try Database(path: target)
            healthyBefore = try SchemaHealth.check(db, layout: try TenantDatabase.load(db)).healthy
        }
        let plan: RestorePlan?
        var planError: String?
        var planSetting: String?
        do {
            plan = try RestorePlanner.plan(snapshot, target: target, options: scenario.options, busyTimeout: .seconds(1))
        } catch {
            plan = nil
            planError = "\(error)"
            planSetting = (error as? VeloFailure)?.setting
        }
        let before = exists ? try Data(contentsOf: URL(fileURLWithPath: target)) : nil
        let previous = exists && plan != nil ? try rows(target, tables: plan!.tables.map(\.table)) : [:]
        var saved: Restore.SavedPlan?
        if scenario.savedPlan, let plan {
            let path = target + ".plan.json"
            try Data((JSONWriter.string(try JSONValueEncoder().encode(plan), pretty: true) + "\n").utf8).write(
                to: URL(fileURLWithPath: path))
            defer { unlink(path) }
            saved = try Restore.SavedPlan(path: path)
        }
        let result: Restore.Result?
        var restoreError: String?
        do {
            result = try Restore.run(
                snapshot, target: target, options: scenario.options, repository: repository, savedPlan: saved,
                safetySnapshot: false, busyTimeout: .seconds(1))
        } catch {
            result = nil
            restoreError = "\(error)"
        }
        let after = FileManager.default.fileExists(atPath: target) ? try Data(contentsOf: URL(fileURLWithPath: target)) : nil
        // The planner refuses options that do not fit the snapshot; anything else it must report as findings.
        if let planError, !(planSetting == "system_tables" || planError.hasPrefix("the snapshot has no collection")) {
            return "the plan failed instead of reporting: \(planError)"
        }
        guard let plan, plan.canProceed else {
            count(planError != nil ? "refused by both (options)" : "blocked by the plan")
            if let result {
                return
                    "the plan \(planError.map { "failed (\($0))" } ?? "blocked (\(plan?.blockers.first?.message ?? ""))"), but the restore ran: \(result.records.count) tables"
            }
            if after != before { return "the restore was refused (\(restoreError ?? "")), but the target changed" }
            return nil
        }
        guard let result else { return "the plan said go, but the restore failed: \(restoreError ?? "?")" }
        count(exists ? "restored into an existing target" : "restored into a new file")
        // The same tables, and the counts by the documented mapping.
        let planned = Set(plan.tables.map(\.table)), reported = Set(result.records.keys)
        if planned != reported {
            return
                "the plan lists \(planned.subtracting(reported).sorted()) that the restore does not report, and the restore reports \(reported.subtracting(planned).sorted()) that the plan does not list"
        }
        for table in plan.tables {
            let counts = result.records[table.table]!
            let overwrite = table.strategy == .overwrite
            let expected = (table.insert, overwrite ? table.conflicting : 0, table.identical + (overwrite ? 0 : table.conflicting))
            if (counts.inserted, counts.updated, counts.skipped) != expected {
                return
                    "\(table.table) (\(table.strategy.rawValue)): the plan said \(table.insert) insert, \(table.conflicting) conflicting, \(table.identical) identical; the restore reports \(counts.inserted) inserted, \(counts.updated) updated, \(counts.skipped) skipped"
            }
        }
        // A healthy database afterwards.
        let db = try Database(path: target)
        let integrity = try db.rows("PRAGMA integrity_check").compactMap { $0.first?.stringValue }
        if integrity != ["ok"] { return "integrity_check after the restore: \(integrity.prefix(3))" }
        let violations = try db.rows("PRAGMA foreign_key_check")
        if !violations.isEmpty {
            return "foreign_key_check after the restore: \(violations.count) violations, table \(violations[0].first?.stringValue ?? "?")"
        }
        let layout = try TenantDatabase.load(db)
        if layout.kind != .landlord {
            let health = try SchemaHealth.check(db, layout: layout)
            if healthyBefore && !health.healthy {
                return "schema corrupt after the restore: \(health.findings.filter { $0.severity == .error }.map(\.message).prefix(3))"
            }
        }
        // The rows: the archive's under overwrite (planning again finds nothing to insert or overwrite), the
        // target's previous ones under skip.
        let again = try RestorePlanner.plan(snapshot, target: target, options: scenario.options, busyTimeout: .seconds(1))
        let rowsAfter = try rows(target, tables: plan.tables.map(\.table))
        for table in plan.tables {
            guard let replanned = again.tables.first(where: { $0.table == table.table }) else { continue }
            if replanned.insert != 0 { return "\(table.table): \(replanned.insert) archive rows are still missing after the restore" }
            if table.strategy == .overwrite && replanned.conflicting != 0 {
                return "\(table.table): \(replanned.conflicting) rows differ from the archive's after an overwrite"
            }
            if table.strategy == .skip, let old = previous[table.table], let new = rowsAfter[table.table] {
                if let changed = old.first(where: { new[$0.key] != $0.value }) {
                    return "\(table.table): row \(changed.key) of the target changed under skip"
                }
            }
        }
        return nil
    }

    /// Cuts a failing scenario down: drops mutations and simplifies options while it still fails.
    func shrink(_ scenario: RestoreScenario, problem: String, check: ((RestoreScenario) -> String?)? = nil) -> (RestoreScenario, String) {
        let check = check ?? { self.check($0) }
        var current = scenario
        var currentProblem = problem
        var progress = true
        while progress {
            progress = false
            var candidates: [RestoreScenario] = current.mutations.indices.map { i in
                var c = current
                c.mutations.remove(at: i)
                return c
            }
            var simpler = current
            if !simpler.options.conflictFor.isEmpty { simpler.options.conflictFor = [:]; candidates.append(simpler) }
            simpler = current
            if simpler.options.collections != nil { simpler.options.collections = nil; candidates.append(simpler) }
            simpler = current
            if simpler.options.systemTables != nil { simpler.options.systemTables = nil; candidates.append(simpler) }
            simpler = current
            if simpler.savedPlan { simpler.savedPlan = false; candidates.append(simpler) }
            for candidate in candidates {
                if let p = check(candidate) {
                    current = candidate
                    currentProblem = p
                    progress = true
                    break
                }
            }
        }
        return (current, currentProblem)
    }
}
