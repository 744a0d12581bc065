import Foundation
import VeloKit

/// Backs up a database, verifies the snapshot, plans a restore into a new file and restores it: the four steps
/// of VeloKit's overview article, with nothing but its public API.
public enum RoundTrip {
    public struct Outcome: Sendable {
        public var snapshot: String
        public var verified: Bool
        public var planned: Bool
        public var restoredRows: Int
    }

    /// - Throws: whatever VeloKit throws; every such error has a `kind` (`error.veloKind`).
    public static func run(database: String, repository folder: String, restoreInto target: String) throws -> Outcome {
        let repository = try Repository.open(folder, create: true)
        repository.lockWait = .seconds(30)
        var options = Backup.Options()
        options.tags = ["example"]
        let backup = try Backup.run(databasePath: database, repository: repository, options: options)
        let snapshot = try SelectedSnapshot.resolve(backup.id, repository: repository)
        let report = try Verifier.verify(snapshot)
        let plan = try RestorePlanner.plan(snapshot, target: target, options: RestoreOptions())
        guard plan.canProceed else {
            throw VeloError("the plan blocks: \(plan.blockers.map(\.message).joined(separator: "; "))", kind: .blocked)
        }
        let result = try Restore.run(snapshot, target: target, options: RestoreOptions(), repository: repository)
        return Outcome(
            snapshot: backup.id, verified: report.ok, planned: plan.canProceed,
            restoredRows: result.records.values.reduce(0) { $0 + $1.inserted })
    }
}
