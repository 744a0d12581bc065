import VeloFormat
import VeloRepository
import VeloStorage

/// The public ways into planning and restoring. The package-level versions beside them also take an open target
/// connection, which only velo's own restore and tests pass.
extension RestorePlanner {
    /// Says what restoring `snapshot` into `target` would do, and what blocks it, before one row is written: the
    /// archive is verified, then the target, the schema version, every collection's table, rows, unique
    /// collisions, relations, foreign keys, secrets and free disk space are checked.
    /// - Parameters:
    ///   - snapshot: the snapshot to restore (`SelectedSnapshot.resolve`).
    ///   - target: the database to restore into; a missing file plans a full restore into a new database.
    ///   - options: the conflict strategy and the selection of collections and system tables.
    ///   - busyTimeout: how long to wait for Veloquent's lock on the target.
    ///   - repository: where the safety snapshot would go (its space is counted).
    ///   - progress: told how far the rows pass is.
    /// - Returns: the plan; `canProceed` is false when something blocks.
    /// - Throws: `VeloFailure` for a target or options that cannot be planned at all (a damaged archive is a
    ///   finding of the plan, not an error).
    public static func plan(
        _ snapshot: SelectedSnapshot, target: String, options: RestoreOptions, busyTimeout: Duration = .seconds(5),
        repository: Repository? = nil, progress: (any ProgressObserver)? = nil
    ) throws -> RestorePlan {
        try plan(
            snapshot, target: target, options: options, busyTimeout: busyTimeout, connection: nil, repository: repository,
            progress: progress)
    }
}

extension Restore {
    /// Restores `snapshot` into `target`, all or nothing. A missing target gets a full restore into a new file
    /// that appears only when complete. An existing one is merged under its write lock: velo plans again (or
    /// checks `savedPlan`), snapshots the target into `repository` unless `safetySnapshot` is false, imports in
    /// one transaction and checks integrity and foreign keys before committing.
    /// - Throws: `VeloFailure`: `.blocked` when the plan blocks (nothing changed), `.damaged` for a damaged
    ///   archive, `.locked` when the repository is locked, `.interrupted` after `Interruption.request`.
    public static func run(
        _ snapshot: SelectedSnapshot, target: String, options: RestoreOptions, repository: Repository?,
        savedPlan: SavedPlan? = nil, safetySnapshot: Bool = true, busyTimeout: Duration = .seconds(5),
        progress: (any ProgressObserver)? = nil
    ) throws -> Result {
        try run(
            snapshot, target: target, options: options, repository: repository, savedPlan: savedPlan, safetySnapshot: safetySnapshot,
            busyTimeout: busyTimeout, progress: progress, connectionSetup: nil)
    }
}
