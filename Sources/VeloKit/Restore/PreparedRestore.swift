import VeloFormat
import VeloRepository
import VeloStorage

/// A plan and what planning learned of the archive, which the restore runs as it is: "the plan is the contract"
/// (Litestream plans, then restores). Planning reads the archive's start (header, schema, collection metadata)
/// and its rows; the restore that follows reads only the rows again, as it imports them, never the rest, and
/// writes exactly the tables the plan lists. A plan saved with `velo plan --out` binds a later restore to the
/// same archive and target by its fingerprints (`Restore.SavedPlan`).
package struct PreparedRestore {
    package let plan: RestorePlan
    let snapshot: SelectedSnapshot
    /// nil when the archive could not be read (the plan says why).
    let facts: RestorePlanner.ArchiveFacts?
    /// The tables the restore touches; nil when the plan stopped before selecting them.
    let selection: RestorePlanner.Selection?
}
