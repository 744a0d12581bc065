import VeloFormat
import VeloStorage

/// One line of `velo snapshots --json` and of `GET /api/backups`: what the catalog says of a snapshot, with the
/// archive's full path and its last verification. One definition for the CLI and the server.
package struct SnapshotListing: Encodable, Sendable, Equatable {
    package var id: String
    package var time: String
    package var source: String
    package var tags: [String]
    package var collections: [String]
    package var rows: Int
    /// What the snapshot added to the repository: its archive, and an incremental snapshot's new pieces.
    package var bytes: Int64
    package var archive: String
    package var verified: String?
    package var verifiedOK: Bool?
    /// `velo backup --app` snapshots: the tenant (`landlord` for the landlord) and the uploaded files kept.
    package var tenant: String?
    package var files: Int?
    /// Whether the snapshot is stored encrypted (its repository is).
    package var encrypted: Bool

    /// The listing of one catalog entry of `repository`.
    package init(_ e: CatalogEntry, in repository: Repository) {
        id = e.id
        time = Timestamp.iso8601(e.time)
        source = e.sourcePath
        tags = e.tags
        collections = e.collections
        rows = e.totalRows
        bytes = e.addedBytes
        archive = repository.archiveLocation(of: e)
        verified = e.verification.map { Timestamp.iso8601($0.time) }
        verifiedOK = e.verification?.ok
        tenant = e.app.map { $0.tenantName ?? "landlord" }
        files = e.files
        encrypted = repository.isEncrypted
    }
}
