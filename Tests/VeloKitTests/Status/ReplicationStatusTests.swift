import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// `velo status` for continuous capture: the lag, the restorable window and the gaps of each captured source;
/// critical when the lag is over --max-lag or a gap is open; and the three Prometheus families.
@Suite struct ReplicationStatusTests {
    @Test func aCapturedSourceIsOkWhileCaptureKeepsUpAndCriticalOnceItLags() throws {
        let captured = try ContinuousCompactionTests.capture(rounds: 4)
        let newest = try #require(captured.moments.last).time / 1000 + 1
        var options = BackupStatus.Options()
        options.now = newest
        let report = BackupStatus.evaluate(captured.repository, options: options)
        #expect(report.state == .ok, "only captures, no snapshot, keeping up: \(report)")
        let source = try #require(report.continuous.first)
        #expect(source.source == captured.path && source.state == .ok && source.gaps == 0 && !source.openGap)
        #expect(source.lagSeconds < 3 && source.windowSeconds >= 0.5 && source.windows.count == 1)

        options.now = newest + 120
        let late = BackupStatus.evaluate(captured.repository, options: options)
        #expect(late.state == .critical)
        #expect(late.continuous.first?.reasons.first?.contains("more than 1m") == true, "\(late.continuous)")

        let text = PrometheusTextfile.render(late)
        for family in ["velo_replication_lag_seconds", "velo_restorable_window_seconds", "velo_replication_gaps_total"] {
            #expect(text.contains("# TYPE \(family) gauge\n\(family){source=\"\(captured.path)\"} "), "\(family)")
        }
        #expect(text.contains("velo_replication_gap_open{source=\"\(captured.path)\"} 0"))
    }

    @Test func capturesThatStopContinuingAreAnOpenGap() throws {
        let captured = try ContinuousCompactionTests.capture(rounds: 5)
        // A batch in the middle is lost: the ones after it do not continue the chain, and no new base followed.
        let batches = try captured.names(".batch")
        try captured.repository.storage.remove(batches[2])
        var options = BackupStatus.Options()
        options.now = try #require(captured.moments.last).time / 1000 + 1
        let report = BackupStatus.evaluate(captured.repository, options: options)
        let source = try #require(report.continuous.first)
        #expect(report.state == .critical && source.openGap && source.gaps == 1)
        #expect(source.reasons.contains { $0.contains("a gap is open") }, "\(source.reasons)")
    }

    @Test func aDamagedBatchIsCriticalAndNamed() throws {
        let captured = try ContinuousCompactionTests.capture(rounds: 2)
        let batch = try #require(try captured.names(".batch").last)
        try Data("not a batch".utf8).write(to: URL(fileURLWithPath: captured.repository.root + "/" + batch.relativePath))
        let report = BackupStatus.evaluate(captured.repository, options: BackupStatus.Options())
        #expect(report.state == .critical)
        #expect(report.continuousError?.contains(batch.name) == true, "\(report.continuousError ?? "")")
    }
}
