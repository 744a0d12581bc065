import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct BackupStatusTests {
    let t0 = History.seconds("2026-11-01T00:00:00Z")

    func repository(_ name: String = #function) throws -> (Repository, String, String) {
        let repo = try Repository.open(Fixtures.temporaryDirectory(name).appendingPathComponent("repo").path, create: true)
        return (repo, try Fixtures.demo(posts: 3, seed: 1, name: name + "a"), try Fixtures.demo(posts: 3, seed: 2, name: name + "b"))
    }

    func options(now: Int64, maxAge: String = "26h") -> BackupStatus.Options {
        var o = BackupStatus.Options()
        o.now = now
        o.maxAge = Interval.parse(maxAge)!
        return o
    }

    @Test func freshAndVerifiedIsOkNeverVerifiedIsAWarningStaleIsCritical() throws {
        let (repo, a, b) = try repository()
        try CatalogIndexTests.backup(a, repo, at: t0)
        let newest = try CatalogIndexTests.backup(a, repo, at: t0 + 3600)
        try CatalogIndexTests.backup(b, repo, at: t0)
        for entry in try repo.catalog.entries() { _ = try Verifier.verify(.catalogued(entry, repository: repo)) }
        var report = BackupStatus.evaluate(repo, options: options(now: t0 + 7200))
        #expect(report.state == .ok && report.sources.allSatisfy { $0.state == .ok })
        let sa = try #require(report.sources.first { $0.source == FileSystem.absolute(a) })
        #expect(sa.latest?.id == newest.id && sa.latest?.ageSeconds == 3600 && sa.snapshots == 2 && sa.sizes.count == 2)

        // 27 hours after b's only snapshot, b is stale; a (26 hours old) is not.
        report = BackupStatus.evaluate(repo, options: options(now: t0 + 27 * 3600))
        #expect(report.state == .critical)
        let sb = try #require(report.sources.first { $0.source == FileSystem.absolute(b) })
        #expect(sb.state == .critical && sb.reasons == ["newest snapshot is 27h old (more than 26h)"])
        #expect(report.sources.first { $0.source == FileSystem.absolute(a) }?.state == .ok)

        // A new, unverified snapshot does not hide the verification of an older one, but a source never verified warns.
        let c = try Fixtures.demo(posts: 3, seed: 3, name: "c")
        try CatalogIndexTests.backup(c, repo, at: t0 + 7000)
        report = BackupStatus.evaluate(repo, options: options(now: t0 + 7200))
        #expect(report.state == .warning)
        #expect(report.sources.first { $0.source == FileSystem.absolute(c) }?.reasons == ["never verified"])

        // A verification older than --max-verify-age warns (verifications are timed by the clock, not by t0).
        var strict = options(now: Timestamp.now + 2 * 86_400, maxAge: "1000d")
        strict.maxVerifyAge = Interval.parse("1d")
        report = BackupStatus.evaluate(repo, options: strict)
        #expect(report.sources.first { $0.source == FileSystem.absolute(a) }?.state == .warning)
    }

    @Test func aFailedVerificationADamagedEntryAndAMissingSourceAreCritical() throws {
        let (repo, a, b) = try repository()
        let snapshot = try CatalogIndexTests.backup(a, repo, at: t0)
        try CatalogIndexTests.backup(b, repo, at: t0)
        // Damage a's archive and verify it.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: snapshot.archive))
        try handle.seek(toOffset: 200)
        try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try handle.close()
        for entry in try repo.catalog.entries() { _ = try Verifier.verify(.catalogued(entry, repository: repo)) }
        var opts = options(now: t0 + 60)
        opts.expectedSources = [FileSystem.absolute(a), "/srv/never-backed-up.sqlite"]
        var report = BackupStatus.evaluate(repo, options: opts)
        #expect(report.state == .critical)
        let sa = try #require(report.sources.first { $0.source == FileSystem.absolute(a) })
        #expect(sa.state == .critical && sa.failing == [snapshot.id] && sa.lastVerification?.ok == false)
        #expect(report.sources.first { $0.source == "/srv/never-backed-up.sqlite" }?.reasons == ["no snapshot"])
        #expect(report.sources.first { $0.source == FileSystem.absolute(b) }?.state == .ok)

        // A catalog entry that cannot be read is critical too, and named.
        let bEntry = try #require(try repo.catalog.entries().first { $0.sourcePath == FileSystem.absolute(b) })
        try "{".write(toFile: repo.entryFile(bEntry.id), atomically: true, encoding: .utf8)
        report = BackupStatus.evaluate(repo, options: options(now: t0 + 60))
        #expect(report.state == .critical && report.damagedCatalogEntries.count == 1)
        #expect(report.damagedCatalogEntries[0].contains(bEntry.id))
    }

    @Test func anEmptyRepositoryIsCritical() throws {
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        #expect(BackupStatus.evaluate(repo, options: options(now: t0)).state == .critical)
    }

    @Test func prometheusTextfileHasEveryFamilyAndEscapesLabels() throws {
        let (repo, a, _) = try repository()
        let snapshot = try CatalogIndexTests.backup(a, repo, at: t0)
        _ = try Verifier.verify(.catalogued(try repo.catalog.entries()[0], repository: repo))
        var opts = options(now: t0 + 60)
        opts.expectedSources = ["/srv/a \"quoted\"\\name.sqlite"]
        let report = BackupStatus.evaluate(repo, options: opts)
        let text = PrometheusTextfile.render(report)
        let label = "{source=\"\(FileSystem.absolute(a))\",kind=\"tenant\"}"
        #expect(text.contains("velo_last_backup_timestamp_seconds\(label) \(t0)\n"))
        #expect(text.contains("velo_snapshot_bytes\(label) \(snapshot.bytes)\n"))
        #expect(text.contains("velo_last_verify_ok\(label) 1\n"))
        #expect(text.contains("velo_source_status{source=\"/srv/a \\\"quoted\\\"\\\\name.sqlite\",kind=\"\"} 2\n"))
        for family in [
            "velo_last_backup_timestamp_seconds", "velo_last_verify_timestamp_seconds", "velo_last_verify_ok", "velo_snapshot_bytes",
            "velo_snapshots", "velo_snapshots_failing", "velo_repository_bytes", "velo_source_status", "velo_catalog_damaged_entries",
        ] {
            #expect(text.contains("# TYPE \(family) gauge\n"))
        }
        let path = Fixtures.temporaryDirectory().appendingPathComponent("velo.prom").path
        try PrometheusTextfile.write(report, to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o644)
        #expect(throws: VeloError.self) { try PrometheusTextfile.write(report, to: "/nonexistent-folder/velo.prom") }
    }
}
