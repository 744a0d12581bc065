import Foundation
import Testing

/// `velo copy` as a cron line runs it: the first run copies, the next copies nothing and says so, and a copy
/// without a selection is a usage error.
@Suite struct CopyCommandTests {
    @Test func copyThenCopyAgainThenRefuseNoSelection() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let local = dir.appendingPathComponent("local").path
        let offsite = dir.appendingPathComponent("offsite").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "50"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", local, "--tag", "nightly"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", local]).status == 0)

        let tagged = try VeloProcess.run(["copy", "--from-repo", local, "--repo", offsite, "--tag", "nightly"])
        #expect(tagged.status == 0 && tagged.stdout.contains("1 copied, 0 already there"), "\(tagged.stdout)\(tagged.stderr)")
        let all = try VeloProcess.run(["copy", "--from-repo", local, "--repo", offsite, "--all", "--json"])
        #expect(all.status == 0, "\(all.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any]
        #expect((report?["copied"] as? [Any])?.count == 1 && (report?["skipped"] as? [Any])?.count == 1)
        #expect(report?.keys.contains("requests_to") == true)

        let verify = try VeloProcess.run(["verify", "--repo", offsite, "--all"])
        #expect(verify.status == 0 && verify.stdout.components(separatedBy: ": ok").count == 3, "\(verify.stdout)")

        let none = try VeloProcess.run(["copy", "--from-repo", local, "--repo", offsite])
        #expect(none.status == 64 && none.stderr.contains("--all"), "\(none.stderr)")
        let itself = try VeloProcess.run(["copy", "--from-repo", local, "--repo", local, "--all"])
        #expect(itself.status != 0 && itself.stderr.contains("into itself"), "\(itself.stderr)")
    }
}
