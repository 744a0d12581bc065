import VeloFormat
import VeloRepository
import VeloStorage

extension SchemaRecovery {
    /// `velo schema recover` and `POST /api/collections/{collection}/recover`: plans the recovery first (what
    /// cannot be planned is refused before anything is written), snapshots the collection into `repository`
    /// (tag `pre-recover`) unless it is nil or this is a dry run, then recovers in one transaction. The repository is
    /// opened (and created) only once the plan passed, so a refused recovery leaves none behind.
    package static func run(
        databasePath path: String, collection name: String, repository: (() throws -> Repository)?, dryRun: Bool,
        busyTimeout: Duration
    ) throws -> Result {
        var db = try Database(path: path, mode: .readWrite, busyTimeout: busyTimeout)
        let layout = try TenantDatabase.load(db)
        let recovery = try SchemaRecovery(database: db, layout: layout, collection: name)
        _ = try recovery.plan()  // refuse what cannot be planned before taking a snapshot
        var snapshot: String?
        if !dryRun, let repository {
            var options = Backup.Options()
            options.collections = [recovery.collection.name]
            options.tags = ["pre-recover"]
            options.busyTimeout = busyTimeout
            snapshot = try Backup.run(databasePath: path, repository: try repository(), options: options).id
            db = try Database(path: path, mode: .readWrite, busyTimeout: busyTimeout)
        }
        return try SchemaRecovery(database: db, layout: try TenantDatabase.load(db), collection: name).run(
            dryRun: dryRun, snapshot: snapshot)
    }
}
