import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo restore`: plans again under the target's write lock (or checks a saved plan against it), takes a safety
/// snapshot of the target, then imports everything in one transaction — all or nothing. A target that does not
/// exist gets a full restore into a new file instead.
public enum Restore {
    public struct Result: Encodable, Sendable {
        public var snapshot: String
        public var target: String
        public var created: Bool
        public var safetySnapshot: String?
        public var undo: String?
        public var metadata: [RestoredCollection]
        public var records: [String: RestoredRows]
        public var seconds: Double
    }

    /// What a saved plan binds the restore to.
    public struct SavedPlan: Sendable {
        public var snapshot: String
        public var target: String
        public var fingerprints: RestorePlan.Fingerprints
        public var options: RestoreOptions
        /// Per table: (insert, conflicting, identical, only in the target), as planned.
        public var counts: [String: [Int]]

        public init(path: String) throws {
            let json: JSONValue
            do { json = try JSONParser.parse(try FileSystem.read(path)) } catch { throw VeloError("\(path): not a velo plan (\(error))") }
            guard json["format"]?.stringValue == "velo-restore-plan", json["version"]?.intValue == 1 else {
                throw VeloError("\(path): not a velo restore plan (format velo-restore-plan, version 1)")
            }
            guard let snapshot = json["snapshot"]?.stringValue, let target = json["target"]?.stringValue,
                let f = json["fingerprints"], let archive = f["archive_sha256"]?.stringValue,
                let schema = f["target_schema"]?.stringValue, let data = f["target_data"]?.stringValue
            else {
                throw VeloError("\(path): the plan has no snapshot, target or fingerprints")
            }
            self.snapshot = snapshot
            self.target = target
            fingerprints = .init(archiveSHA256: archive, targetSchema: schema, targetData: data)
            var options = RestoreOptions()
            let o = json["options"]
            options.conflict = o?["conflict"]?.stringValue.flatMap(RestorePlan.Strategy.init(rawValue:)) ?? .skip
            for (name, value) in o?["conflict_for"]?.objectValue ?? [] {
                if let s = value.stringValue.flatMap(RestorePlan.Strategy.init(rawValue:)) { options.conflictFor[name] = s }
            }
            options.collections = o?["collections"]?.arrayValue?.compactMap(\.stringValue)
            options.systemTables = o?["system_tables"]?.arrayValue?.compactMap(\.stringValue)
            self.options = options
            var counts: [String: [Int]] = [:]
            for t in json["tables"]?.arrayValue ?? [] {
                guard let name = t["table"]?.stringValue else { continue }
                counts[name] = ["insert", "conflicting", "identical", "only_in_target"].map { t[$0]?.intValue ?? -1 }
            }
            self.counts = counts
        }
    }

    /// Restores `snapshot` into `target`. `repository` receives the safety snapshot unless `safetySnapshot` is false;
    /// with `safetyUploads` (a tenant's storage disk) it holds the tenant's uploaded files too, so that it undoes
    /// a restore of the tenant's files as well and is a whole snapshot of the tenant.
    package static func run(
        _ snapshot: SelectedSnapshot, target: String, options: RestoreOptions, repository: Repository?,
        savedPlan: SavedPlan? = nil, safetySnapshot: Bool = true, safetyUploads: (any UploadsDisk)? = nil,
        busyTimeout: Duration = .seconds(5),
        progress: (any ProgressObserver)? = nil, connectionSetup: ((Database) throws -> Void)?
    ) throws -> Result {
        let started = ContinuousClock.now
        func seconds() -> Double {
            let e = ContinuousClock.now - started
            return e.inSeconds
        }
        let targetPath = FileSystem.absolute(target)
        if let savedPlan, savedPlan.target != targetPath {
            throw VeloError("the saved plan is for \(savedPlan.target), not \(targetPath)")
        }
        if let savedPlan, let id = snapshot.id, savedPlan.snapshot != id {
            throw VeloError("the saved plan is for snapshot \(savedPlan.snapshot), not \(id)")
        }
        let effective = savedPlan?.options ?? options
        guard FileManager.default.fileExists(atPath: targetPath) else {
            if let savedPlan, savedPlan.fingerprints.targetSchema != "new" {
                throw VeloError("the saved plan is stale: it was made for an existing \(targetPath), which is gone; plan again")
            }
            let full = effective.collections == nil && effective.systemTables == nil
            var manifest: Manifest?
            var sha256: String?
            var audited = false
            var tables: Set<String>?
            if let record = try snapshot.catalogRecord(), savedPlan == nil, full {
                // The catalog's manifest and SHA-256 check every entry, and then the whole file, as it streams into
                // a temporary file that becomes the target only when complete: the same checks as the plan's audit.
                (manifest, sha256) = record
            } else {
                let plan = try RestorePlanner.plan(
                    snapshot, target: targetPath, options: effective, busyTimeout: busyTimeout, progress: progress)
                guard plan.canProceed else { throw blocked(plan) }
                if let savedPlan, savedPlan.fingerprints.archiveSHA256 != plan.fingerprints.archiveSHA256 {
                    throw VeloError("the saved plan is stale: the archive changed since it was made; plan again")
                }
                // The file must still be the one the plan audited.
                manifest = try snapshot.catalogRecord()?.manifest
                sha256 = plan.fingerprints.archiveSHA256
                audited = true
                tables = full ? nil : Set(plan.tables.map(\.table))
            }
            let result: NewDatabaseRestore.Result
            do {
                // Without a catalog record, the plan has just audited every byte: the restore checks the file is the same.
                result = try NewDatabaseRestore.run(
                    snapshot, manifest: manifest, archiveSHA256: sha256, audited: audited, to: targetPath,
                    tables: tables, progress: progress)
            } catch let damage as ArchiveDamage {
                throw VeloError("the restore is blocked: the archive is damaged: \(damage); nothing was written", kind: .damaged)
            }
            return Result(
                snapshot: result.snapshot, target: targetPath, created: true, safetySnapshot: nil, undo: nil, metadata: [],
                records: result.rows.mapValues { RestoreImporter.Report.Counts(inserted: $0) }, seconds: seconds())
        }
        try DatabaseFile.check(targetPath)
        if access(targetPath, W_OK) != 0 || access((targetPath as NSString).deletingLastPathComponent, W_OK) != 0 {
            throw VeloError("\(targetPath): the target is read-only (the file or its folder cannot be written)")
        }
        let db = try Database(path: targetPath, mode: .readWrite, busyTimeout: busyTimeout)
        try connectionSetup?(db)  // tests use it to make the disk "full" (PRAGMA max_page_count)
        do {
            try db.execute("BEGIN IMMEDIATE")
        } catch let error as SQLiteError where error.isBusy {
            throw VeloError(
                "\(targetPath): another process (Veloquent?) holds the write lock past the busy timeout", remedy: .waitLonger)
        }
        do {
            let prepared = try RestorePlanner.prepare(
                snapshot, target: targetPath, options: effective, busyTimeout: busyTimeout,
                connection: db, repository: safetySnapshot ? repository : nil, progress: progress)
            let plan = prepared.plan
            let counts = Dictionary(
                plan.tables.map { ($0.table, [$0.insert, $0.conflicting, $0.identical, $0.onlyInTarget]) }, uniquingKeysWith: { a, _ in a })
            if let savedPlan, savedPlan.fingerprints == plan.fingerprints, savedPlan.counts != counts {
                throw VeloError("the saved plan is stale: the target's rows changed since it was made; plan again")
            }
            if let savedPlan, savedPlan.fingerprints != plan.fingerprints {
                let what =
                    savedPlan.fingerprints.archiveSHA256 != plan.fingerprints.archiveSHA256
                    ? "the archive"
                    : (savedPlan.fingerprints.targetSchema != plan.fingerprints.targetSchema ? "the target's schema" : "the target's data")
                throw VeloError("the saved plan is stale: \(what) changed since it was made; plan again")
            }
            guard plan.canProceed else { throw blocked(plan) }
            var safety: String?
            if safetySnapshot {
                guard let repository else {
                    throw VeloError(
                        "a restore into an existing database first snapshots it, and no repository is named",
                        remedy: .nameRepositoryOrSkipSafetySnapshot)
                }
                var backup = Backup.Options()
                backup.tags = ["pre-restore"]
                backup.uploads = safetyUploads
                backup.busyTimeout = busyTimeout
                safety = try Backup.run(databasePath: targetPath, repository: repository, options: backup).id
                Diagnostics.info("\(targetPath): safety snapshot \(safety!) taken before the import")
            }
            // The plan's own facts and selection: the import reads the archive once more, for its rows only.
            guard let facts = prepared.facts, let selection = prepared.selection else { throw blocked(plan) }
            let report = try RestoreImporter(facts: facts, selection: selection, plan: plan, db: db).run(
                snapshot: snapshot, progress: progress)
            try db.execute("COMMIT")
            Diagnostics.info("\(targetPath): import committed")
            let undo = safety.map {
                "velo restore \($0) --repo \(repository!.root) --target <new file> restores the target as it was before"
            }
            return Result(
                snapshot: plan.snapshot, target: targetPath, created: false, safetySnapshot: safety, undo: undo,
                metadata: report.metadata, records: report.records, seconds: seconds())
        } catch {
            if db.isInTransaction { try? db.execute("ROLLBACK") }
            throw error
        }
    }

    static func blocked(_ plan: RestorePlan) -> RestoreBlocked { RestoreBlocked(plan: plan) }
}

/// A restore its plan blocks: nothing was changed. It carries the plan, so that whoever asked sees every
/// finding (the server sends them as the error's `errors`), not only the first.
public struct RestoreBlocked: VeloFailure {
    public let plan: RestorePlan
    public var kind: ErrorKind { .blocked }

    public var description: String {
        let first =
            plan.blockers.first.map { $0.message + ($0.examples.isEmpty ? "" : " (e.g. \($0.examples.prefix(3).joined(separator: "; ")))") }
            ?? "blocked"
        return
            "the restore is blocked: \(first)\(plan.blockers.count > 1 ? "; and \(plan.blockers.count - 1) more (see its plan)" : ""); nothing was changed"
    }
}
