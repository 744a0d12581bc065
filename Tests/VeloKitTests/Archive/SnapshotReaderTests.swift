import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct SnapshotReaderTests {
    /// An audited scan (the plan has just read every byte) trusts the audit but not the file: it still refuses
    /// bytes other than those the audit read.
    @Test func anAuditedScanChecksThatTheFileIsStillWhatWasAudited() throws {
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        let backup = try Backup.run(databasePath: try Fixtures.demo(posts: 20), repository: repo, options: .init())
        let audit = try ArchiveAudit.run(path: backup.archive)
        #expect(audit.problems.isEmpty)
        var rows = 0
        let manifest = try SnapshotReader(path: backup.archive, archiveSHA256: audit.archiveSHA256, audited: true).scan { _, _ in
            rows += 1
            return true
        }
        #expect(manifest?.totalRows == rows)
        let other = String(repeating: "0", count: 64)
        #expect(throws: ArchiveDamage.self) {
            try SnapshotReader(path: backup.archive, archiveSHA256: other, audited: true).scan { _, _ in true }
        }
    }
}
