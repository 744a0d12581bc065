import Foundation
import VeloFormat
import VeloStorage

/// Which snapshots a name like `latest` may stand for, as restic's `latest --host --tag --path`: a tenant (its
/// name, domain or id, or `landlord`), tags (all of them), a source database. `latest` is then the newest
/// snapshot that matches, never a newer one of another tenant or source.
public struct SnapshotFilter: Sendable, Equatable {
    /// A tenant's name, domain or id (case-insensitive), or `landlord`.
    public var tenant: String?
    /// Tags the snapshot must all carry.
    public var tags: [String] = []
    /// The source database's path (made absolute, as snapshots record it).
    public var source: String?

    public init(tenant: String? = nil, tags: [String] = [], source: String? = nil) {
        self.tenant = tenant
        self.tags = tags
        self.source = source.map(FileSystem.absolute)
    }

    /// True when nothing is filtered.
    public var isEmpty: Bool { tenant == nil && tags.isEmpty && source == nil }

    /// Whether a catalogued snapshot matches every criterion given.
    public func matches(_ entry: CatalogEntry) -> Bool {
        if let source, entry.sourcePath != source { return false }
        if !tags.allSatisfy(entry.tags.contains) { return false }
        if let tenant, !Self.isOf(entry, tenant: tenant) { return false }
        return true
    }

    /// Whether a snapshot is of the tenant `selector` names: its name or domain (case-insensitively), its id,
    /// or `landlord`. Only snapshots that carry their app (`velo backup --app`, or any later snapshot of the
    /// same database file: `Backup.write` carries the origin over) are of a tenant.
    package static func isOf(_ entry: CatalogEntry, tenant selector: String) -> Bool {
        guard let app = entry.app else { return false }
        let wanted = selector.lowercased()
        guard let id = app.tenantID else { return wanted == "landlord" }
        return app.tenantName?.lowercased() == wanted || app.tenantDomain?.lowercased() == wanted || String(id) == selector
    }

    /// What is filtered, for messages: "tenant 'acme', tags a, b, source /srv/t.sqlite".
    public var description: String {
        var parts: [String] = []
        if let tenant { parts.append("tenant '\(tenant)'") }
        if !tags.isEmpty { parts.append("tag\(tags.count == 1 ? "" : "s") \(tags.joined(separator: ", "))") }
        if let source { parts.append("source \(source)") }
        return parts.joined(separator: ", ")
    }
}
