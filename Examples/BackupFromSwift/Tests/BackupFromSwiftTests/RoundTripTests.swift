import BackupFromSwift
import Foundation
import Testing
import VeloKit

@Suite struct RoundTripTests {
    @Test func backUpVerifyPlanAndRestoreWithThePublicAPI() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("velokit-example-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = dir.appendingPathComponent("tenant.sqlite").path
        let demo = try DemoDatabase(options: .init(posts: 50, seed: 3)).write(to: database)
        let outcome = try RoundTrip.run(
            database: database, repository: dir.appendingPathComponent("repo").path,
            restoreInto: dir.appendingPathComponent("restored.sqlite").path)
        #expect(outcome.verified && outcome.planned)
        #expect(outcome.restoredRows > 0 && outcome.restoredRows <= demo.rows.values.reduce(0, +))
        // Errors are decided on by kind.
        do {
            _ = try SelectedSnapshot.resolve("", repository: try Repository.open(dir.appendingPathComponent("repo").path))
            Issue.record("an empty name selected a snapshot")
        } catch {
            #expect(error.veloKind == .input)
        }
    }
}
