import VeloFormat
import VeloRepository
import VeloStorage

/// What a restore did to one collection's definition: Veloquent's import result shape
/// (`{"collection", "action"}`, action `created`, `updated` or `skipped`).
public struct RestoredCollection: Encodable, Sendable {
    public var collection: String
    public var action: String

    public init(collection: String, action: String) {
        self.collection = collection
        self.action = action
    }
}

/// What a restore did to one table's rows: Veloquent's import result shape (`{"inserted", "updated", "skipped"}`).
/// The plan's counts map onto these: inserted = insert; updated = conflicting under overwrite; skipped =
/// identical, plus conflicting under skip.
public struct RestoredRows: Encodable, Sendable, Equatable {
    public var inserted = 0
    public var updated = 0
    public var skipped = 0

    public init(inserted: Int = 0, updated: Int = 0, skipped: Int = 0) {
        self.inserted = inserted
        self.updated = updated
        self.skipped = skipped
    }
}
