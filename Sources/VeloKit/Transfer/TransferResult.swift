import VeloFormat
import VeloRepository
import VeloStorage

/// What an import did, or would do: Veloquent's import result (`metadata` actions and per-table counts, in
/// Veloquent's order: system tables, then user tables) plus velo's findings, in the planner's format.
package struct TransferResult: Sendable {
    /// One `metadata` entry: `{"collection","action","warning"?}`.
    package struct Metadata: Sendable, Equatable {
        package var collection: String
        /// `created`, `updated` or `skipped`.
        package var action: String
        package var warning: String?
    }

    /// `{"inserted","updated","skipped"}` of one table.
    package struct Counts: Sendable, Equatable {
        package var inserted = 0
        package var updated = 0
        package var skipped = 0
    }

    package var metadata: [Metadata] = []
    /// Tables in result order, with whether Veloquent imports them in its system phase.
    package var records: [(table: String, counts: Counts, system: Bool)] = []
    /// What blocks the import (severity error) and what the operator should know.
    package var findings: [RestorePlan.Finding] = []

    /// True when nothing blocks.
    package var canProceed: Bool { !findings.contains { $0.severity == .error } }
    package var blockers: [RestorePlan.Finding] { findings.filter { $0.severity == .error } }

    /// The counts of one table.
    package func counts(_ table: String) -> Counts? { records.first { $0.table == table }?.counts }

    /// Veloquent's result data, key for key.
    package var json: JSONValue {
        let system = records.filter(\.system), user = records.filter { !$0.system }
        return .object([
            (
                "metadata",
                .array(
                    metadata.map { m in
                        var pairs: [(String, JSONValue)] = [("collection", .string(m.collection)), ("action", .string(m.action))]
                        if let w = m.warning { pairs.append(("warning", .string(w))) }
                        return .object(pairs)
                    })
            ),
            // PHP encodes an empty array as `[]`: a payload without records gives `"records":[]`.
            (
                "records",
                records.isEmpty
                    ? .array([])
                    : .object(
                        (system + user).map { r in
                            (
                                r.table,
                                .object([
                                    ("inserted", .int(r.counts.inserted)), ("updated", .int(r.counts.updated)),
                                    ("skipped", .int(r.counts.skipped)),
                                ])
                            )
                        })
            ),
        ])
    }

    /// The findings as JSON, in the planner's format.
    package var findingsJSON: JSONValue {
        .array(
            findings.map { f in
                var pairs: [(String, JSONValue)] = [("severity", .string(f.severity.rawValue)), ("check", .string(f.check))]
                if let c = f.collection { pairs.append(("collection", .string(c))) }
                if let t = f.table { pairs.append(("table", .string(t))) }
                pairs.append(("message", .string(f.message)))
                if let n = f.count { pairs.append(("count", .int(n))) }
                pairs.append(("examples", .array(f.examples.map { .string($0) })))
                return .object(pairs)
            })
    }
}
