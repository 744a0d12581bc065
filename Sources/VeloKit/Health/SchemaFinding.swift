import VeloFormat
import VeloRepository
import VeloStorage

/// One thing `velo schema corrupt` found: how bad it is, where, and what.
public struct SchemaFinding: Encodable, Sendable, Equatable {
    public enum Severity: String, Encodable, Sendable, Comparable {
        case info, warning, error

        public static func < (a: Severity, b: Severity) -> Bool {
            let order: [Severity] = [.info, .warning, .error]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    /// What kind of drift, for programs: `schema-job`, `table-missing`, `column-missing`, `column-extra`,
    /// `column-type`, `column-nullability`, `index-missing`, `index-different`, `index-extra`, `pivot-missing`,
    /// `pivot-malformed`, `pivot-column-missing`, `relation-target-missing`.
    public var kind: String
    public var severity: Severity
    public var collection: String?
    public var table: String?
    public var column: String?
    public var index: String?
    public var message: String
}
