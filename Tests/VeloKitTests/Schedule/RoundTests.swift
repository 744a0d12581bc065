import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct RoundTests {
    /// A config for two demo databases in a new folder, with `extra` keys.
    func setup(_ extra: String = "", _ name: String = #function) throws -> (RunConfig, String, String) {
        let folder = Fixtures.temporaryDirectory(name)
        let a = try Fixtures.demo(posts: 3, seed: 1, name: name + "a")
        let b = try Fixtures.demo(posts: 3, seed: 2, name: name + "b")
        let file = folder.appendingPathComponent("velo.json").path
        try """
        {"_comment": "test", "repository": "repo", "databases": ["\(a)", "\(b)"], "backup_every": "1h",
         "verify_every": "7d", "prometheus": "velo.prom"\(extra)}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        return (try RunConfig.load(path: file), a, b)
    }

    @Test func aRoundBacksUpWhatIsDueVerifiesWhatWasNotAndWritesMetrics() throws {
        let (config, a, b) = try setup(#", "retention": {"keep_last": 2}"#)
        let t0 = Timestamp.now
        let first = try Round.run(config: config, now: t0)
        #expect(first.backups.map(\.action) == ["backed-up", "backed-up"])
        #expect(first.failed.isEmpty && first.damaged.isEmpty && first.verified.count == 2 && first.verified.allSatisfy(\.ok))
        #expect(first.status == .ok)
        let metrics = try String(contentsOfFile: try #require(config.prometheus), encoding: .utf8)
        #expect(metrics.contains("velo_last_verify_ok{source=\"\(FileSystem.absolute(a))\",kind=\"tenant\"} 1"))

        // Ten minutes later nothing is due.
        let second = try Round.run(config: config, now: t0 + 600)
        #expect(second.backups.map(\.action) == ["not-due", "not-due"] && second.verified.isEmpty)

        // An hour later (a timer firing a few seconds early counts) both are backed up again; keep_last 2 prunes nothing yet.
        let third = try Round.run(config: config, now: t0 + 3590)
        #expect(third.backups.map(\.action) == ["backed-up", "backed-up"])
        #expect(third.prune?.remove.isEmpty == true && third.verified.count == 2)
        let fourth = try Round.run(config: config, now: t0 + 7200)
        #expect(fourth.prune?.remove.count == 2, "keep_last 2 per source")
        let repo = try Repository.open(config.repository)
        #expect(try repo.catalog.entries().count == 4)
        // Databases are backed up incrementally, as velo backup does.
        #expect(try repo.catalog.entries().allSatisfy { (try? repo.catalog.detail($0.id).header.version) == 2 })
        _ = b
    }

    /// Several repositories: backups go to the first, each other one gets copies and the same retention; one that
    /// cannot be reached is reported (status critical, the round fails naming it) and does not stop the others.
    @Test func aRoundCopiesToEveryOtherRepositoryAndReportsAnUnreachableOne() throws {
        for (key, value) in SeaweedFS.environment where key != "HOME" { setenv(key, value, 1) }
        let unreachable = "s3:http://127.0.0.1:1/velo-nowhere/tenants"
        let (config, _, _) = try setup(#", "retention": {"keep_last": 1}"#)
        var several = config
        several.copies = [(config.file as NSString).deletingLastPathComponent + "/offsite", unreachable]
        let t0 = Timestamp.now
        _ = try Round.run(config: several, now: t0)
        let report = try Round.run(config: several, now: t0 + 3600)
        #expect(report.backups.map(\.action) == ["backed-up", "backed-up"])
        #expect(report.copies.count == 2)
        let offsite = report.copies[0]
        #expect(offsite.error == nil && offsite.copied == 2 && offsite.pruned == 2, "\(offsite)")
        #expect(report.copies[1].error != nil && report.copies[1].repository == unreachable)
        #expect(report.failed == ["copy to \(unreachable)"])
        #expect(report.status == .critical)
        let primary = try Repository.open(config.repository)
        let copy = try Repository.open(several.copies[0])
        #expect(try copy.catalog.entries().map(\.id).sorted() == primary.catalog.entries().map(\.id).sorted())
        #expect(try copy.catalog.entries().count == 2, "keep_last 1 per source, there too")
    }

    @Test func aConfigMayListSeveralRepositories() throws {
        let folder = Fixtures.temporaryDirectory()
        let file = folder.appendingPathComponent("velo.json").path
        try #"{"repository": ["local", "s3:https://s3.example.net/b/p"], "databases": ["a.sqlite"]}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let config = try RunConfig.load(path: file)
        #expect(config.repository == folder.appendingPathComponent("local").path)
        #expect(config.copies == ["s3:https://s3.example.net/b/p"])
        try #"{"repository": ["a", "a"], "databases": ["a.sqlite"]}"#.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: VeloError.self) { try RunConfig.load(path: file) }
    }

    @Test func oneSourceFailingDoesNotStopTheOthers() throws {
        let (config, a, b) = try setup()
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: a))
        let report = try Round.run(config: config)
        #expect(report.backups.map(\.action) == ["failed", "backed-up"])
        #expect(report.failed == [FileSystem.absolute(a)])
        #expect(report.backups[0].error?.contains(a) == true)
        #expect(report.status == .critical, "a has no snapshot")
        _ = b
    }

    @Test func twoRoundsNeverRunAtOnce() throws {
        let (config, _, _) = try setup()
        let repo = try Repository.open(config.repository, create: true)
        let held = try RoundLock(repository: repo)
        defer { held.release() }
        let error = #expect(throws: VeloError.self) { try Round.run(config: config) }
        #expect(error?.kind == .locked)
    }

    @Test func aConfigIsStrict() throws {
        let folder = Fixtures.temporaryDirectory()
        func load(_ text: String) throws -> RunConfig {
            let file = folder.appendingPathComponent("c.json").path
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return try RunConfig.load(path: file)
        }
        let config = try load(#"{"repository": "r", "databases": ["db/a.sqlite"], "retention": {"keep_daily": 7}, "max_age": "2d"}"#)
        #expect(config.repository == folder.appendingPathComponent("r").path, "relative to the config file")
        #expect(config.databases == [folder.appendingPathComponent("db/a.sqlite").path])
        #expect(config.retention?.keep[.daily] == 7 && config.maxAge.seconds == 172_800)
        let cases: [(String, String)] = [
            (#"{"databases": ["a"]}"#, "repository is missing"),
            (#"{"repository": "r"}"#, "nothing to back up"),
            (#"{"repository": "r", "databases": ["a"], "backup_evry": "1h"}"#, "unknown key backup_evry"),
            (#"{"repository": "r", "databases": ["a"], "backup_every": "hourly"}"#, "backup_every hourly"),
            (#"{"repository": "r", "databases": ["a"], "retention": {"keep_lats": 1}}"#, "retention: "),
            (#"{"repository": "r", "databases": ["a"], "tenants": ["x"]}"#, "only with app"),
            (#"{"repository": "r", "databases": ["a", "a"]}"#, "twice"),
            ("[", "c.json"),
        ]
        for (text, message) in cases {
            let error = #expect(throws: VeloError.self) { try load(text) }
            #expect(error?.message.contains(message) == true, "\(text): \(error?.message ?? "")")
            #expect(error?.message.hasPrefix(folder.appendingPathComponent("c.json").path) == true)
        }
    }

    @Test func continuousCaptureSettingsAreReadStrictly() throws {
        let folder = Fixtures.temporaryDirectory()
        func load(_ continuous: String) throws -> RunConfig {
            let file = folder.appendingPathComponent("c.json").path
            try #"{"repository": "r", "databases": ["a.sqlite"], "continuous": \#(continuous)}"#.write(
                toFile: file, atomically: true, encoding: .utf8)
            return try RunConfig.load(path: file)
        }
        #expect(try load("false").continuous == nil)
        let defaults = try #require(try load("true").continuous)
        #expect(defaults.interval == .seconds(1) && defaults.compaction == ContinuousCompaction.Levels())
        let config = try load(
            #"{"interval": "2s", "poll": "250ms", "base_every": "6h", "compact": "30s,30m", "wal_cap_frames": 2000, "set_wal": true, "max_lag": "5m"}"#
        )
        let options = try #require(config.continuous)
        #expect(options.interval == .seconds(2) && options.poll == .milliseconds(250) && options.baseEvery == .seconds(21_600))
        #expect(options.compaction?.span1 == .seconds(30) && options.compaction?.span2 == .seconds(1800))
        #expect(options.walCapFrames == 2000 && options.setWAL && config.maxLag.seconds == 300)
        #expect(try load(#"{"compact": "off"}"#).continuous?.compaction == nil)
        #expect(try load("true").capturedSources().sources == [folder.appendingPathComponent("a.sqlite").path])
        for (text, message) in [
            (#"{"interval": "soon"}"#, "continuous.interval"), (#"{"compact": "1h,1m"}"#, "continuous.compact 1h,1m"),
            (#"{"wal_cap_frames": 10}"#, "at least 100"), (#"{"intervall": "1s"}"#, "unknown key continuous.intervall"),
            ("3", "continuous must be"),
        ] {
            let error = #expect(throws: VeloError.self) { try load(text) }
            #expect(error?.message.contains(message) == true, "\(text): \(error?.message ?? "")")
        }
    }

    @Test func theExampleConfigIsValid() throws {
        let config = try RunConfig.load(path: Fixtures.root.appendingPathComponent("velo.example.json").path)
        #expect(config.repository == "/var/backups/velo" && config.backupEvery.seconds == 3600 && config.verifyLimit == 50)
        #expect(config.retention?.keepLast == 6 && config.prometheus != nil)
    }

    @Test func aRoundBacksUpAnAppsDueTenantsAndStatusExpectsEachOfThem() throws {
        let folder = Fixtures.temporaryDirectory()
        let app = folder.appendingPathComponent("app").path
        var demo = DemoApp.Options()
        demo.tenants = 2
        demo.posts = 3
        demo.files = 1
        _ = try DemoApp(options: demo).write(to: app)
        let file = folder.appendingPathComponent("velo.json").path
        try #"{"repository": "repo", "app": "app", "jobs": 2, "backup_every": "1h", "verify_limit": 1}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let config = try RunConfig.load(path: file)
        let expected = try config.expectedSources()
        #expect(expected.count == 3, "the landlord and two tenants: \(expected)")
        let t0 = Timestamp.now
        let first = try Round.run(config: config, now: t0)
        #expect(first.backups.count == 3 && first.backups.allSatisfy { $0.action == "backed-up" }, "\(first.backups)")
        #expect(Set(first.backups.map(\.source)) == Set(expected))
        #expect(first.backups.compactMap(\.tenant).contains("landlord"))
        #expect(first.verified.count == 1, "verify_limit")
        let second = try Round.run(config: config, now: t0 + 60)
        #expect(second.backups.map(\.action) == ["not-due", "not-due", "not-due"])
        // Status against the config knows all three; two were not verified yet (a warning).
        var options = BackupStatus.Options()
        options.expectedSources = expected
        options.now = t0 + 60
        let status = BackupStatus.evaluate(try Repository.open(config.repository), options: options)
        #expect(status.sources.count == 3 && status.state == .warning)

        // A tenant whose database is damaged: the round backs up the others and names it; status calls it stale.
        let damaged = try #require(expected.first { $0.contains("/database/tenants/") })
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: damaged))
        let later = t0 + 30 * 3600
        let third = try Round.run(config: config, now: later)
        #expect(third.failed == [damaged], "\(third.backups)")
        #expect(third.backups.filter { $0.action == "backed-up" }.count == 2)
        options.now = later
        let stale = BackupStatus.evaluate(try Repository.open(config.repository), options: options)
        #expect(stale.state == .critical)
        // The snapshot's time is the clock's when it was taken, a moment after t0 on a busy machine.
        let taken = try #require(
            try Repository.open(config.repository).catalog.entries().filter { $0.sourcePath == damaged }.map(\.time).max())
        #expect(later - taken > 29 * 3600)
        let reason = stale.sources.first { $0.source == damaged }?.reasons.first
        #expect(reason?.hasPrefix("newest snapshot is \(Interval(seconds: later - taken)) old") == true, "\(reason ?? "no reason")")
    }
}
