import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo transfer import`: imports a Veloquent transfer payload into a target database, planned first and all
/// or nothing. The plan is the import itself, run inside a transaction that is rolled back: it finds every
/// blocker (unique collisions, tables that are not importable or not allowed, foreign keys, columns with data an
/// overwrite would drop) and counts exactly what the import does, so `--dry-run` predicts it exactly. When
/// nothing blocks, the target is snapshotted (tag `pre-import`) and the import runs again in one transaction
/// that commits. A target that does not exist is created as a fresh Veloquent database and filled in one pass.
package enum TransferImport {
    package struct Options: Sendable {
        /// skip or overwrite; nil takes the request body's `conflict`, else skip.
        package var conflict: RestorePlan.Strategy?
        package var dryRun = false
        package var safetySnapshot = true
        package var busyTimeout: Duration = .seconds(5)
        package var maxStringBytes = PayloadReader.defaultMaxStringBytes
        /// Keep the payload's collection ids (for `velo backup --from-payload`).
        package var preserveIDs = false

        package init() {}
    }

    package struct Outcome: Sendable {
        package var result: TransferResult
        package var target: String
        /// The target did not exist and was created.
        package var created: Bool
        package var conflict: RestorePlan.Strategy
        package var dryRun: Bool
        /// Whether the target was changed.
        package var committed: Bool
        package var safetySnapshot: String?
        package var undo: String?
        package var seconds: Double
    }

    /// Imports `payloadPath` into `target`. A blocked plan is an outcome with `committed` false, not an error:
    /// the caller reports the findings (and exits 3). `beforeRow` is called before every row written in the
    /// committing run (tests inject failures there).
    package static func run(
        payload payloadPath: String, target: String, options: Options, repository: Repository?,
        beforeRow: ((String, Int) throws -> Void)? = nil, progress: (any ProgressObserver)? = nil
    ) throws -> Outcome {
        let started = ContinuousClock.now
        func seconds() -> Double {
            let e = ContinuousClock.now - started
            return e.inSeconds
        }
        var reader = PayloadReader(path: payloadPath)
        reader.maxStringBytes = options.maxStringBytes
        let header = try reader.readHeader()
        var conflict = options.conflict ?? header.conflict.flatMap(RestorePlan.Strategy.init(rawValue:)) ?? .skip
        let targetPath = FileSystem.absolute(target)

        /// One run inside an open transaction; reruns when the request body's `conflict` turns out to differ.
        func pass(_ db: Database, hook: ((String, Int) throws -> Void)?) throws -> TransferResult {
            while true {
                try db.execute("SAVEPOINT velo_import")
                let importer = try PayloadImporter(db: db, conflict: conflict, preserveIDs: options.preserveIDs, path: payloadPath)
                importer.beforeRow = hook
                importer.progress = progress
                try importer.importMetadata(header.collections)
                try importer.remapRelations()
                var sink = importer
                let bodyConflict = header.hasRecords ? try reader.readRecords(into: &sink) : header.conflict
                if options.conflict == nil, let body = bodyConflict.flatMap(RestorePlan.Strategy.init(rawValue:)), body != conflict {
                    try db.execute("ROLLBACK TO velo_import; RELEASE velo_import")
                    conflict = body
                    continue
                }
                try importer.finish()
                try db.execute("RELEASE velo_import")
                return importer.result
            }
        }

        guard FileManager.default.fileExists(atPath: targetPath) else {
            // A new database: built under a temporary name, renamed into place only when complete.
            let directory = (targetPath as NSString).deletingLastPathComponent
            guard FileSystem.isDirectory(directory) else { throw VeloError("\(directory): no such directory") }
            let temporary = targetPath + ".velo-import-\(getpid())"
            TemporaryFile.removeLitter(beside: targetPath, marker: ".velo-import-")  // what a killed import left
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
            defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) } }
            try FreshTenant.create(at: temporary)
            let db = try Database(path: temporary, mode: .readWrite)
            // The journal in memory: savepoints still roll back (a failed collection create, a rerun under the body's
            // conflict), and the new pages a fresh file grows by are never journaled.
            try db.execute(
                "PRAGMA foreign_keys = OFF; PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA cache_size = -16000; PRAGMA locking_mode = EXCLUSIVE"
            )
            try db.execute("BEGIN IMMEDIATE")
            let result: TransferResult
            do { result = try pass(db, hook: beforeRow) } catch { try? db.execute("ROLLBACK"); throw error }
            guard result.canProceed, !options.dryRun else {
                try? db.execute("ROLLBACK")
                return Outcome(
                    result: result, target: targetPath, created: false, conflict: conflict, dryRun: options.dryRun,
                    committed: false, safetySnapshot: nil, undo: nil, seconds: seconds())
            }
            try db.execute("COMMIT")
            try db.execute("PRAGMA journal_mode = DELETE")
            let fd = open(temporary, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { fsync(fd); close(fd) }
            try FileSystem.rename(temporary, to: targetPath)
            return Outcome(
                result: result, target: targetPath, created: true, conflict: conflict, dryRun: false,
                committed: true, safetySnapshot: nil, undo: nil, seconds: seconds())
        }

        try DatabaseFile.check(targetPath)
        if access(targetPath, W_OK) != 0 || access((targetPath as NSString).deletingLastPathComponent, W_OK) != 0 {
            throw VeloError("\(targetPath): the target is read-only (the file or its folder cannot be written)")
        }
        if !options.dryRun && options.safetySnapshot && repository == nil {
            throw VeloError(
                "an import into an existing database first snapshots it, and no repository is named",
                remedy: .nameRepositoryOrSkipSafetySnapshot)
        }
        let db = try Database(path: targetPath, mode: .readWrite, busyTimeout: options.busyTimeout)
        // Declared foreign keys are checked once, at the end, against what the target already violated.
        try db.execute("PRAGMA foreign_keys = OFF")
        func begin() throws {
            do { try db.execute("BEGIN IMMEDIATE") } catch let error as SQLiteError where error.isBusy {
                throw VeloError(
                    "\(targetPath): another process (Veloquent?) holds the write lock past the busy timeout", remedy: .waitLonger)
            }
        }
        // 1. The plan: the whole import, rolled back.
        try begin()
        let planned: TransferResult
        do { planned = try pass(db, hook: nil) } catch { try? db.execute("ROLLBACK"); throw error }
        try db.execute("ROLLBACK")
        guard planned.canProceed, !options.dryRun else {
            return Outcome(
                result: planned, target: targetPath, created: false, conflict: conflict, dryRun: options.dryRun,
                committed: false, safetySnapshot: nil, undo: nil, seconds: seconds())
        }
        // 2. Under the write lock: the safety snapshot, then the import, committed only when nothing blocks.
        try begin()
        do {
            var safety: String?
            if options.safetySnapshot, let repository {
                var backup = Backup.Options()
                backup.tags = ["pre-import"]
                backup.busyTimeout = options.busyTimeout
                safety = try Backup.run(databasePath: targetPath, repository: repository, options: backup).id
            }
            let result = try pass(db, hook: beforeRow)
            guard result.canProceed else {
                try db.execute("ROLLBACK")
                return Outcome(
                    result: result, target: targetPath, created: false, conflict: conflict, dryRun: false,
                    committed: false, safetySnapshot: safety, undo: nil, seconds: seconds())
            }
            try db.execute("COMMIT")
            let undo = safety.map {
                "velo restore \($0) --repo \(repository!.root) --target <new file> restores the target as it was before"
            }
            return Outcome(
                result: result, target: targetPath, created: false, conflict: conflict, dryRun: false,
                committed: true, safetySnapshot: safety, undo: undo, seconds: seconds())
        } catch {
            if db.isInTransaction { try? db.execute("ROLLBACK") }
            throw error
        }
    }
}
