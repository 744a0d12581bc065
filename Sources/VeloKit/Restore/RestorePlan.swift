import VeloFormat
import VeloRepository
import VeloStorage

/// What a restore will do to a target, and what stops it: the output of `velo plan`, and what `velo restore
/// --plan` replays. Saved plans carry fingerprints of the archive and the target, and are refused when either
/// changed since.
public struct RestorePlan: Encodable, Sendable {
    /// What happens to a row (or a collection definition) the target already has, with other values:
    /// `skip` keeps the target's, `overwrite` takes the archive's.
    public enum Strategy: String, Codable, Sendable {
        case skip, overwrite
    }

    /// One finding of the planner.
    public struct Finding: Encodable, Sendable {
        public var severity: SchemaFinding.Severity
        /// Which check: `archive`, `target`, `schema-version`, `collection`, `rows`, `unique`, `relation`,
        /// `foreign-key`, `secrets`, `disk`.
        public var check: String
        public var collection: String?
        public var table: String?
        public var message: String
        public var count: Int?
        public var examples: [String]
    }

    /// What happens to one table.
    public struct TablePlan: Encodable, Sendable {
        public var table: String
        public var collection: String?
        public var strategy: Strategy
        /// `create` (the table is new), `merge`, or `replace-metadata`.
        public var action: String
        /// Archive rows the target lacks (restored as inserted).
        public var insert = 0
        /// Archive rows whose key the target has with other values (updated under overwrite, skipped under skip).
        public var conflicting = 0
        /// Archive rows the target has as they are (skipped).
        public var identical = 0
        /// Target rows the archive lacks (left as they are).
        public var onlyInTarget = 0
        /// Columns added to the target table to hold the archive's (overwrite only).
        public var addColumns: [String] = []
        /// Columns whose type the table's rebuild brings in line with the archive's definition (overwrite only).
        public var retypeColumns: [String] = []
        /// The archive's managed indexes the restore creates, and the target's managed ones it drops (overwrite only).
        public var createIndexes: [String] = []
        public var dropIndexes: [String] = []
    }

    /// Fingerprints that tie a saved plan to the archive and the target it was made for.
    public struct Fingerprints: Encodable, Sendable, Equatable {
        public var archiveSHA256: String
        public var targetSchema: String
        public var targetData: String
    }

    public var format = "velo-restore-plan"
    public var version = 1
    /// The snapshot's id.
    public var snapshot: String
    public var archive: String
    public var target: String
    public var targetExists: Bool
    /// False when a finding is an error: the restore would be refused.
    public var canProceed: Bool
    public var findings: [Finding]
    public var tables: [TablePlan]
    public var fingerprints: Fingerprints
    /// The options the plan was made with, so a saved plan restores exactly that.
    public var options: RestoreOptions

    /// What the restore changes in each table the target has: the importer carries out exactly this.
    var changes: [String: TableChanges] = [:]

    enum CodingKeys: String, CodingKey {
        case format, version, snapshot, archive, target, targetExists, canProceed, findings, tables, fingerprints, options
    }

    public var blockers: [Finding] { findings.filter { $0.severity == .error } }
}

/// What to restore and how conflicts are settled.
public struct RestoreOptions: Codable, Sendable, Equatable {
    /// Default strategy for rows whose primary key exists in the target.
    public var conflict: RestorePlan.Strategy = .skip
    /// Strategies per collection name.
    public var conflictFor: [String: RestorePlan.Strategy] = [:]
    /// Only these collections (with their pivot tables); nil for all.
    public var collections: [String]?
    /// System tables to restore; nil for the default set (Veloquent's transfer allow-list and settings).
    public var systemTables: [String]?

    public init() {}

    /// The system tables restored by default: what Veloquent's transfer moves, plus settings.
    public static let defaultSystemTables = SystemTables.transferAllowList + ["settings"]

    func strategy(for collection: String?) -> RestorePlan.Strategy {
        collection.flatMap { conflictFor[$0] } ?? conflict
    }
}

extension RestorePlan {
    /// Saves the plan for `velo restore --plan`: written aside, fsynced and renamed into place with mode 0600,
    /// as the repository's own files are (a plan names tables and example rows).
    /// - Throws: `VeloError` of kind `.io` naming the file and the call that failed.
    public func save(to path: String) throws {
        let text = JSONWriter.string(try JSONValueEncoder().encode(self), pretty: true) + "\n"
        try FileSystem.replaceAtomically(Array(text.utf8), at: FileSystem.absolute(path))
    }
}
