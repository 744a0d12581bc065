import Foundation
import Testing

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// `velo replicate` and `velo restore --at` against real writers: a writer in this process commits into a WAL
/// database (another process than velo's, as Veloquent's PHP is) while velo captures, and every restore to a
/// moment must equal the writer's own record of the database at that moment.
@Suite(.serialized) struct ReplicateCommandTests {
    /// A commit is seen at the next read of the log: within one poll (100 ms), the read itself, and whatever
    /// delays velo's loop (storing a batch, a seal) on a machine running the writer and the tests in debug
    /// builds. The oracle allows this much after a commit returned for velo to have seen it; velo's own summary
    /// reports the longest time between two reads.
    static let latency: Int64 = 1000

    static func restore(_ repo: String, _ source: String, at time: Int64, into target: String) throws -> VeloProcess.Result {
        try VeloProcess.run(["restore", "--repo", repo, "--source", source, "--at", OracleWriter.iso(time), "--target", target])
    }

    /// Restores at `times` and checks each against the oracle; returns the failures, one line each.
    static func check(_ writer: OracleWriter, repo: String, source: String, at times: [Int64], dir: URL) throws -> [String] {
        var failures: [String] = []
        for (i, time) in times.enumerated() {
            let target = dir.appendingPathComponent("restored-\(i).sqlite").path
            let result = try restore(repo, source, at: time, into: target)
            guard result.status == 0 else {
                failures.append("\(OracleWriter.iso(time)): exit \(result.status): \(result.stderr)")
                continue
            }
            let hash = try OracleWriter.contentHash(of: target)
            if !writer.matches(hash, at: time, latency: latency) {
                let found = writer.commits.firstIndex { $0.hash == hash }
                let allowed = writer.allowed(at: time, latency: latency)
                let late = found.map { j in
                    j + 1 < writer.commits.count ? "; the next commit returned \(time - writer.commits[j + 1].after) ms before" : ""
                }
                let windows = (try? ContinuousHistory.load(source: source, storage: LocalStorage(root: repo)))?.windows ?? []
                failures.append(
                    "windows \(windows): \(OracleWriter.iso(time)) (\(time)): restored the content of commit \(found.map(String.init) ?? "none")\(late ?? ""), expected one of \(allowed.first ?? -2)...\(allowed.last ?? -2)"
                )
            }
            try? FileManager.default.removeItem(atPath: target)
        }
        return failures
    }

    @Test func restoresToAnyMomentMatchTheWritersRecord() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        let writer = try OracleWriter(path: db)
        // A small cap: velo starts the log over several times during the run, as under a long busy spell.
        let velo = try ReplicateProcess(["--db", db, "--repo", repo, "--wal-cap-frames", "400"])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        // A minute at 300 commits a second, as the issue asks (the writer keeps its oracle row by row, so a debug
        // build keeps up).
        let seconds = 60
        try writer.run(for: .seconds(seconds), rate: 300)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(velo.stop() == 0, "\(velo.stderr)")
        let summary = velo.output.last ?? ""
        #expect(summary.contains("0 gaps"), "\(summary)")
        #expect(!summary.contains(" 0 seals"), "the log was never started over: \(summary)")
        let rate = writer.commits.count / seconds
        print("oracle writer: \(writer.commits.count) commits (\(rate) a second); velo: \(summary)")
        #expect(rate >= 200, "the writer managed \(rate) commits a second")
        #expect(try writer.commits.last?.hash == OracleWriter.contentHash(of: db), "the oracle kept row by row is the database read whole")

        let history = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        #expect(history.chains.count == 1 && history.gaps.isEmpty)
        let window = try #require(history.windows.first)
        var generator = SystemRandomNumberGenerator()
        var times = (0..<50).map { _ in Int64.random(in: window, using: &generator) }
        times += (0..<10).map { _ in writer.commits.randomElement(using: &generator)!.after }
        let failures = try Self.check(writer, repo: repo, source: db, at: times, dir: dir)
        #expect(failures.isEmpty, "\(failures.count) of \(times.count) restores differ:\n\(failures.prefix(5).joined(separator: "\n"))")

        // The newest moment is the database as it is now.
        let latest = dir.appendingPathComponent("latest.sqlite").path
        #expect(try Self.restore(repo, db, at: window.upperBound, into: latest).status == 0)
        #expect(try OracleWriter.contentHash(of: latest) == OracleWriter.contentHash(of: db))
    }

    @Test func aConnectionPerCommitIsCapturedWithoutGapsAndCompactedIntoPacks() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        let writer = try OracleWriter(path: db)
        writer.connectionPerCommit = true
        // Logs started over by the writer's short-lived connections (a small cap), packs every 2 s and 10 s.
        let velo = try ReplicateProcess(["--db", db, "--repo", repo, "--wal-cap-frames", "200", "--compact", "2s,10s"])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        try writer.run(for: .seconds(14), rate: 150)
        Thread.sleep(forTimeInterval: 4)  // the last spans settle and are merged
        #expect(velo.stop() == 0, "\(velo.stderr)")
        let summary = velo.output.last ?? ""
        #expect(summary.contains("0 gaps") && !summary.contains(" 0 seals") && !summary.contains(" 0 packs made"), "\(summary)")

        let history = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        #expect(history.chains.count == 1 && history.gaps.isEmpty, "\(history.gaps)")
        let window = try #require(history.windows.first)
        var generator = SystemRandomNumberGenerator()
        let times = (0..<25).map { _ in Int64.random(in: window, using: &generator) }
        let failures = try Self.check(writer, repo: repo, source: db, at: times, dir: dir)
        #expect(failures.isEmpty, "\(failures.count) of \(times.count) restores differ:\n\(failures.prefix(5).joined(separator: "\n"))")
        // Moments whose span is merged read the base, two images and a pack.
        let merged = window.lowerBound + (window.upperBound - window.lowerBound) / 2
        let target = dir.appendingPathComponent("merged.sqlite").path
        let result = try VeloProcess.run(
            ["restore", "--repo", repo, "--source", db, "--at", OracleWriter.iso(merged), "--target", target, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((json?["objects_read"] as? Int ?? 99) <= 4, "\(result.stdout)")
    }

    @Test func catDiffPlanAndRestoreIntoAnExistingDatabaseAnswerForAnyCapturedMoment() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "100", "--journal-mode", "wal", "-q"]).status == 0)
        let velo = try ReplicateProcess(["--db", db, "--repo", repo])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        Thread.sleep(forTimeInterval: 0.3)
        let before = OracleWriter.now
        Thread.sleep(forTimeInterval: 0.3)
        // A tenant deletes ten posts and edits four titles; velo captures it.
        let writer = try Database(path: db, mode: .readWrite)
        try writer.execute("DELETE FROM _velo_posts WHERE rowid IN (SELECT rowid FROM _velo_posts ORDER BY rowid LIMIT 10)")
        try writer.execute(
            "UPDATE _velo_posts SET title = title || ' (edited)' WHERE rowid IN (SELECT rowid FROM _velo_posts ORDER BY rowid DESC LIMIT 4)"
        )
        Thread.sleep(forTimeInterval: 1.5)
        let after = OracleWriter.now
        Thread.sleep(forTimeInterval: 0.3)
        #expect(velo.stop() == 0, "\(velo.stderr)")

        func run(_ arguments: [String]) throws -> VeloProcess.Result { try VeloProcess.run(arguments + ["--repo", repo]) }
        let then = try run(["cat", "--at", OracleWriter.iso(before), "posts"])
        let now = try run(["cat", "--at", OracleWriter.iso(after), "posts"])
        #expect(then.status == 0 && now.status == 0, "\(then.stderr)\(now.stderr)")
        #expect(then.stdout.split(separator: "\n").count == 100 && now.stdout.split(separator: "\n").count == 90)
        #expect(now.stdout.components(separatedBy: "(edited)").count == 5 && !then.stdout.contains("(edited)"))

        let diff = try run(["diff", "--at", OracleWriter.iso(before), "--at", OracleWriter.iso(after), "--json"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let tables = try JSONParser.parse(diff.stdout)["tables"]?.arrayValue ?? []
        let posts = tables.first { $0["table"]?.stringValue == "_velo_posts" }
        #expect(posts?["removed"]?.intValue == 10 && posts?["changed"]?.intValue == 4 && posts?["added"]?.intValue == 0)

        // The database as it is now, as a file of its own; then the moment before the deletes merged into it.
        let live = dir.appendingPathComponent("live.sqlite").path
        #expect(try run(["restore", "--source", db, "--at", OracleWriter.iso(after), "--target", live]).status == 0)
        let plan = try run(["plan", "--source", db, "--at", OracleWriter.iso(before), "--target", live, "--json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let planned = (try JSONParser.parse(plan.stdout)["tables"]?.arrayValue ?? []).first { $0["table"]?.stringValue == "_velo_posts" }
        #expect(planned?["insert"]?.intValue == 10 && planned?["conflicting"]?.intValue == 4)
        let refused = try run(["restore", "--source", db, "--at", OracleWriter.iso(before), "--target", live])
        #expect(refused.status != 0 && refused.stderr.contains("merges that moment's rows"), "\(refused.stderr)")
        let merged = try run(["restore", "--source", db, "--at", OracleWriter.iso(before), "--target", live, "--yes"])
        #expect(merged.status == 0 && merged.stdout.contains("moment: \(db) as of"), "\(merged.stderr)")
        let check = try Database(path: live, mode: .readOnly)
        #expect(try check.scalar("SELECT count(*) FROM _velo_posts")?.int64Value == 100)
        #expect(
            try check.scalar("SELECT count(*) FROM _velo_posts WHERE title LIKE '% (edited)'")?.int64Value == 4, "skip keeps the target's")
    }

    @Test func aConfigsSourcesAreCapturedByReplicateAndBesideServesRounds() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "20", "--journal-mode", "wal", "-q"]).status == 0)
        let config = dir.appendingPathComponent("velo.json").path
        try
            #"{"repository": "repo", "databases": ["tenant.sqlite"], "backup_every": "1h", "continuous": {"poll": "50ms", "max_lag": "5m"}}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let writer = try Database(path: db, mode: .readWrite)

        // velo replicate --config: the config's database, into its repository.
        let velo = try ReplicateProcess(["--config", config])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        try writer.execute("UPDATE _velo_posts SET title = 'by replicate' WHERE rowid = 1")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(velo.stop() == 0, "\(velo.stderr)")
        #expect(velo.stderr.contains("every 1s (reading every 50ms)"), "\(velo.stderr)")
        let first = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        #expect(first.chains.count == 1 && first.gaps.isEmpty)

        // velo serve --config: capture beside the rounds, carrying on the same chain.
        let (server, _, log) = try ServeCommandTests.serveWithConfig(config)
        defer { if server.isRunning { server.terminate() } }
        #expect(log.contains("msg=round"), "\(log)")
        Thread.sleep(forTimeInterval: 1)
        try writer.execute("UPDATE _velo_posts SET title = 'by serve' WHERE rowid = 2")
        let written = OracleWriter.now
        Thread.sleep(forTimeInterval: 2)
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        let history = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        #expect(history.chains.count == 1 && history.gaps.isEmpty, "\(history.gaps)")
        #expect((history.windows.last?.upperBound ?? 0) >= written, "serve captured the write")
        let status = try VeloProcess.run(["status", "--config", config])
        #expect(status.status == 0 && status.stdout.contains("CAPTURED SOURCE"), "\(status.stdout)\(status.stderr)")
    }

    @Test func aTenantsMomentIsPlannedAndRestoredIntoItsApp() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "2", "--posts", "30", "--files", "0", "-q"]).status == 0)
        let velo = try ReplicateProcess(["--app", app, "--repo", repo, "--set-wal"])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        Thread.sleep(forTimeInterval: 0.3)
        let before = OracleWriter.now
        Thread.sleep(forTimeInterval: 0.3)
        let tenant = "\(app)/database/tenants/velo_tenant_tenant_001.sqlite"
        try Database(path: tenant, mode: .readWrite).execute("DELETE FROM _velo_posts WHERE rowid <= 3")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(velo.stop() == 0, "\(velo.stderr)")

        let plan = try VeloProcess.run([
            "plan", "--app", app, "--tenant", "tenant-001", "--at", OracleWriter.iso(before), "--repo", repo, "--json",
        ])
        #expect(plan.status == 0, "\(plan.stderr)")
        let posts = (try JSONParser.parse(plan.stdout)["tables"]?.arrayValue ?? []).first { $0["table"]?.stringValue == "_velo_posts" }
        #expect(posts?["insert"]?.intValue == 3, "\(plan.stdout.prefix(400))")
        let restored = try VeloProcess.run(
            ["restore", "--app", app, "--tenant", "tenant-001", "--at", OracleWriter.iso(before), "--repo", repo, "--yes"])
        #expect(restored.status == 0 && restored.stdout.contains("uploaded files are not captured continuously"), "\(restored.stderr)")
        #expect(try Database(path: tenant, mode: .readOnly).scalar("SELECT count(*) FROM _velo_posts")?.int64Value == 30)
        // The other tenant was not touched.
        let other = "\(app)/database/tenants/velo_tenant_tenant_002.sqlite"
        #expect(try Database(path: other, mode: .readOnly).scalar("SELECT count(*) FROM _velo_posts")?.int64Value == 30)
    }

    @Test func aKilledReplicatorLosesNothingItReportedAndItsRestartResumesOrRecordsAGap() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        let writer = try OracleWriter(path: db)
        var velo = try ReplicateProcess(["--db", db, "--repo", repo])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        var reported: [String] = []
        for round in 0..<3 {
            try writer.run(for: .milliseconds(1500 + Int.random(in: 0...1000)), rate: 200, vacuum: false)
            reported += velo.storedBatches
            #expect(velo.stop(SIGKILL) == SIGKILL)
            // The writer goes on while velo is down; its checkpoints may start the log over meanwhile.
            try writer.run(for: .milliseconds(300 + round * 700), rate: 200, vacuum: false)
            velo = try ReplicateProcess(["--db", db, "--repo", repo])
            #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        }
        try writer.run(for: .seconds(1), rate: 200, vacuum: false)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(velo.stop() == 0, "\(velo.stderr)")

        // Every batch reported stored is there and reads.
        let storage = try LocalStorage(root: repo)
        for name in reported {
            #expect(try storage.stat(StoredName(.capture, name)) != nil, "\(name) was reported stored and is missing")
        }
        let history = try #require(try ContinuousHistory.load(source: db, storage: storage))
        #expect(history.gaps.count >= history.chains.count - 1, "every chain after the first begins after a recorded gap")

        // Inside each window, restores match the oracle; inside a gap, they are refused naming both sides.
        var times: [Int64] = []
        for window in history.windows {
            times += (0..<6).map { _ in Int64.random(in: window) }
        }
        let failures = try Self.check(writer, repo: repo, source: db, at: times, dir: dir)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        for (earlier, later) in zip(history.windows, history.windows.dropFirst()) where later.lowerBound - earlier.upperBound > 2 {
            let inside = (earlier.upperBound + later.lowerBound) / 2
            let refused = try Self.restore(repo, db, at: inside, into: dir.appendingPathComponent("gap.sqlite").path)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("falls in a gap"), "\(refused.stderr)")
            #expect(refused.stderr.contains(PointInTimeError.format(earlier.upperBound)), "\(refused.stderr)")
            #expect(refused.stderr.contains(PointInTimeError.format(later.lowerBound)), "\(refused.stderr)")
        }
        print("kill -9 three times: \(history.chains.count) chains, \(history.gaps.count) gaps: \(history.gaps.map(\.reason))")
        // The killed runs' spool folders went with the next start, the last one's with its stop.
        let scratch = (try? FileManager.default.contentsOfDirectory(atPath: repo + "/tmp")) ?? []
        #expect(scratch.filter { $0.hasPrefix("velo-capture") }.isEmpty, "\(scratch)")
    }

    @Test func aWriterKilledInTheMiddleOfATransactionLeavesNothingOfItInTheCapture() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        let writer = try OracleWriter(path: db)
        for _ in 0..<20 { try writer.commitOne() }
        let velo = try ReplicateProcess(["--db", db, "--repo", repo])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        // sqlite3 writes a large transaction, spilling its pages into the log before it commits, and is killed.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = [
            "sqlite3", db,
            "PRAGMA cache_size=10; BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 3000000) INSERT INTO posts (id, body) SELECT 'k' || i, hex(randomblob(100)) FROM n; COMMIT;",
        ]
        try sqlite.run()
        let walBefore = try FileSystem.fileSize(db + "-wal")
        var grew = false
        for _ in 0..<200 where !grew {
            usleep(20_000)
            grew = (try? FileSystem.fileSize(db + "-wal")) ?? 0 > walBefore + (1 << 20)
        }
        kill(sqlite.processIdentifier, SIGKILL)
        sqlite.waitUntilExit()
        #expect(grew, "the killed transaction never spilled into the log")
        for _ in 0..<10 { try writer.commitOne() }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(velo.stop() == 0, "\(velo.stderr)")
        let latest = dir.appendingPathComponent("latest.sqlite").path
        let history = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        let restored = try Self.restore(repo, db, at: history.windows.last!.upperBound, into: latest)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try OracleWriter.contentHash(of: latest) == writer.commits.last!.hash)
        #expect(try OracleWriter.contentHash(of: db) == writer.commits.last!.hash)
    }

    @Test func aBackupBesideReplicationLeavesItsSpoolAlone() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "50", "--journal-mode", "wal"]).status == 0)
        let writer = try OracleWriter(path: db, table: "oracle_posts")
        let velo = try ReplicateProcess(["--db", db, "--repo", repo, "--interval", "2s"])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        // Commits read into the spool, then a backup (which empties the repository's scratch folder) before the
        // batch that holds them is stored.
        for _ in 0..<20 { try writer.commitOne() }
        Thread.sleep(forTimeInterval: 0.3)
        let backup = try VeloProcess.run(["backup", "--db", db, "--repo", repo])
        #expect(backup.status == 0, "\(backup.stderr)")
        for _ in 0..<5 { try writer.commitOne() }
        Thread.sleep(forTimeInterval: 2.5)
        #expect(velo.stop() == 0, "\(velo.stderr)")
        let history = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        let latest = dir.appendingPathComponent("latest.sqlite").path
        #expect(try Self.restore(repo, db, at: history.windows.last!.upperBound, into: latest).status == 0)
        #expect(try OracleWriter.contentHash(of: latest) == writer.commits.last!.hash)
    }

    @Test func anAppIsCapturedWholeAndATenantAddedLaterIsTakenUpWithoutARestart() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "2", "--posts", "20", "--files", "0"]).status == 0)
        let velo = try ReplicateProcess(["--app", app, "--repo", repo, "--set-wal", "--rescan", "1s"])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        // A tenant Veloquent creates meanwhile: its database (WAL) and its row in the landlord.
        let file = app + "/database/tenants/velo_tenant_late.sqlite"
        #expect(try VeloProcess.run(["demo", "--out", file, "--posts", "10", "--journal-mode", "wal"]).status == 0)
        try Database(path: app + "/database/database.sqlite", mode: .readWrite).execute(
            "INSERT INTO tenants (id, name, domain, database, created_at, updated_at) VALUES (3, 'late', 'late.localhost', ?, '2026-12-07 00:00:00', '2026-12-07 00:00:00')",
            [.text(file)])
        Thread.sleep(forTimeInterval: 2.5)
        let writer = try OracleWriter(path: file, table: "oracle_posts")
        for _ in 0..<10 { try writer.commitOne() }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(velo.stop() == 0, "\(velo.stderr)")
        #expect(velo.stderr.contains("velo_tenant_late.sqlite: new; captured from now on"), "\(velo.stderr)")

        let histories = try ContinuousHistory.loadAll(storage: LocalStorage(root: repo))
        #expect(histories.count == 4, "the landlord, two tenants and the late one: \(histories.keys.sorted())")
        let history = try #require(histories[FileSystem.absolute(file)])
        let latest = dir.appendingPathComponent("late.sqlite").path
        #expect(try Self.restore(repo, file, at: history.windows.last!.upperBound, into: latest).status == 0)
        #expect(try OracleWriter.contentHash(of: latest) == writer.commits.last!.hash)
    }

    @Test func aSecondReplicatorOfTheSameSourceIsRefusedNamingTheFirst() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        let writer = try OracleWriter(path: db)
        let first = try ReplicateProcess(["--db", db, "--repo", repo])
        #expect(first.waitForFirstBatch(), "\(first.stderr)")
        let second = try VeloProcess.run(["replicate", "--db", db, "--repo", repo])
        #expect(second.status == 11, "\(second.stderr)")
        #expect(
            second.stderr.contains("already captured into") && second.stderr.contains("velo replicate \(FileSystem.absolute(db))")
                && second.stderr.contains("pid \(first.process.processIdentifier)"), "\(second.stderr)")
        for _ in 0..<5 { try writer.commitOne() }
        Thread.sleep(forTimeInterval: 1.2)
        #expect(first.stop() == 0)
        // Released on stop: the next replicator takes the source up.
        let third = try ReplicateProcess(["--db", db, "--repo", repo])
        try writer.commitOne()  // a batch to store at its first beat (an idle source waits for the heartbeat)
        #expect(third.waitForFirstBatch(), "\(third.stderr)")
        #expect(third.stop() == 0)
    }

    @Test func aRollbackJournalSourceIsRefusedOrSwitchedOnRequest() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("journal.sqlite").path, repo = dir.appendingPathComponent("repo").path
        try Database(path: db, mode: .create).execute("CREATE TABLE t (x)")
        let refused = try VeloProcess.run(["replicate", "--db", db, "--repo", repo])
        #expect(refused.status != 0)
        #expect(
            refused.stderr.contains("journal mode delete, and continuous capture reads the write-ahead log")
                && refused.stderr.contains("--set-wal"), "\(refused.stderr)")
        #expect(try Database(path: db).pragma("journal_mode")?.stringValue == "delete", "a refused source is left as it was")

        let velo = try ReplicateProcess(["--db", db, "--repo", repo, "--set-wal"])
        #expect(velo.waitForFirstBatch(), "\(velo.stderr)")
        #expect(velo.stop() == 0)
        #expect(velo.stderr.contains("switched from journal mode delete to WAL"), "\(velo.stderr)")
        #expect(try Database(path: db).pragma("journal_mode")?.stringValue == "wal")

        // In an app, a tenant in rollback-journal mode is left out with the same advice, and the others captured.
        let app = dir.appendingPathComponent("app").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "2", "--posts", "5", "--files", "0", "-q"]).status == 0)
        let walTenant = "\(app)/database/tenants/velo_tenant_tenant_001.sqlite"
        let journalTenant = "\(app)/database/tenants/velo_tenant_tenant_002.sqlite"
        _ = try Database(path: walTenant, mode: .readWrite).pragma("journal_mode=WAL")
        let appVelo = try ReplicateProcess(["--app", app, "--repo", dir.appendingPathComponent("app-repo").path])
        #expect(appVelo.waitForFirstBatch(), "\(appVelo.stderr)")
        #expect(appVelo.stop() == 0)
        let leftOut = appVelo.stderr.split(separator: "\n").first { $0.contains("\(journalTenant): not captured") } ?? ""
        #expect(leftOut.contains("journal mode delete") && leftOut.contains("'velo replicate --set-wal'"), "\(appVelo.stderr)")
        #expect(!appVelo.stderr.contains("\(walTenant): not captured"), "\(appVelo.stderr)")
        #expect(try Database(path: journalTenant).pragma("journal_mode")?.stringValue == "delete")
    }

    @Test func anExternalTruncateWhileVeloIsStoppedIsAGapAndMomentsOutsideTheWindowAreRefused() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        let writer = try OracleWriter(path: db)
        var velo = try ReplicateProcess(["--db", db, "--repo", repo])
        #expect(velo.waitForFirstBatch())
        for _ in 0..<30 { try writer.commitOne() }
        Thread.sleep(forTimeInterval: 1.2)
        #expect(velo.stop() == 0)
        let stopped = OracleWriter.now
        for _ in 0..<30 { try writer.commitOne() }
        // What an operator's `sqlite3 db 'PRAGMA wal_checkpoint(TRUNCATE)'` does: the log is emptied and the next
        // writer starts a new generation. The 30 commits since velo stopped are in the file, not in any capture.
        _ = try VeloProcess.runTool("/usr/bin/env", ["sqlite3", db, "PRAGMA wal_checkpoint(TRUNCATE);"])
        for _ in 0..<5 { try writer.commitOne() }
        velo = try ReplicateProcess(["--db", db, "--repo", repo])
        #expect(velo.waitForFirstBatch())
        for _ in 0..<5 { try writer.commitOne() }
        Thread.sleep(forTimeInterval: 1.2)
        #expect(velo.stop() == 0)
        #expect(velo.stderr.contains("gap in continuous capture"), "\(velo.stderr)")

        let history = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        #expect(history.chains.count == 2 && history.gaps.count == 1, "\(history.windows)")
        let inGap = try Self.restore(repo, db, at: stopped + 100, into: dir.appendingPathComponent("a.sqlite").path)
        #expect(inGap.status != 0 && inGap.stderr.contains("falls in a gap"), "\(inGap.stderr)")
        let after = try Self.restore(repo, db, at: OracleWriter.now + 60_000, into: dir.appendingPathComponent("b.sqlite").path)
        #expect(after.status != 0 && after.stderr.contains("is after the newest capture"), "\(after.stderr)")
        // Before the window: snapshots answer, and there are none.
        let before = try Self.restore(repo, db, at: 1_000_000, into: dir.appendingPathComponent("c.sqlite").path)
        #expect(before.status != 0 && !before.stderr.contains("continuous"), "\(before.stderr)")
        // Into an existing file only as a merge, confirmed.
        let existing = try Self.restore(repo, db, at: history.windows.last!.upperBound, into: db)
        #expect(existing.status != 0 && existing.stderr.contains("merges that moment's rows"), "\(existing.stderr)")
        // And the newest moment holds everything.
        let latest = dir.appendingPathComponent("latest.sqlite").path
        #expect(try Self.restore(repo, db, at: history.windows.last!.upperBound, into: latest).status == 0)
        #expect(try OracleWriter.contentHash(of: latest) == writer.commits.last!.hash)
        // Retention keeps the last week: everything here, and says what stays restorable.
        let policy = dir.appendingPathComponent("policy.json").path
        try #"{"keep_last": 3, "keep_within_continuous": "7d"}"#.write(toFile: policy, atomically: true, encoding: .utf8)
        let prune = try VeloProcess.run(["prune", "--repo", repo, "--policy", policy, "--dry-run"])
        #expect(prune.status == 0, "\(prune.stderr)")
        #expect(
            prune.stdout.contains("continuous capture: would remove 0 batches, 0 packs and 0 bases")
                && prune.stdout.contains("restorable: \(db) from \(PointInTimeError.format(history.windows.first!.lowerBound))"),
            "\(prune.stdout)")
    }

    /// A restart carries on the chain when nothing can have been committed unseen, and records a gap when
    /// something can: an idle database restarted makes no gap and no new base, not even once its log is gone;
    /// commits a still-open connection left in the log are kept; a log checkpointed and removed while velo was
    /// stopped (what the last of PHP's connections does when it closes) is a gap, never a chain that silently
    /// restores the database without those commits.
    @Test func aRestartCarriesOnWhenNothingWasMissedAndRecordsAGapWhenTheLogWasRemoved() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        do {
            let setup = try Database(path: db, mode: .create)
            try setup.execute("PRAGMA journal_mode=WAL; CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            try setup.execute("INSERT INTO notes (body) VALUES ('first')")
        }  // the last connection closes: its log is checkpointed and removed
        /// One run; an idle one stores its batch only when stopped (or at its next heartbeat), so it is given time
        /// for its first reads instead.
        func run(idle: Bool = false, _ body: () throws -> Void = {}) throws -> String {
            let velo = try ReplicateProcess(["--db", db, "--repo", repo])
            if idle { Thread.sleep(forTimeInterval: 1) } else { #expect(velo.waitForFirstBatch()) }
            try body()
            Thread.sleep(forTimeInterval: 1.2)
            #expect(velo.stop() == 0)
            return velo.stderr
        }
        func bases() throws -> Int {
            var count = 0
            try LocalStorage(root: repo).list(.capture) { name, _ in if name.name.hasSuffix(".base") { count += 1 } }
            return count
        }
        func history() throws -> ContinuousHistory {
            try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        }
        func newest(_ label: String) throws -> String {
            let target = dir.appendingPathComponent("\(label).sqlite").path
            let result = try Self.restore(repo, db, at: try history().windows.last!.upperBound, into: target)
            #expect(result.status == 0, "\(result.stderr)")
            return try OracleWriter.contentHash(of: target)
        }

        // Idle: three runs, no log at all between them.
        #expect(!(try run()).contains("gap"))
        for _ in 0..<2 { #expect(!(try run(idle: true)).contains("gap"), "an idle restart is no gap") }
        #expect(try bases() == 1)
        let idle = try history()
        #expect(idle.gaps.isEmpty && idle.windows.count == 1, "\(idle.windows)")

        // A connection commits while velo is stopped and stays open: the file is still the base, the log holds the
        // commit. It is kept; when it was made is not known, so that span is a gap inside the same chain.
        var open: Database? = try Database(path: db, mode: .readWrite)
        try open!.execute("INSERT INTO notes (body) VALUES ('while stopped, log kept')")
        let kept = try run { try open!.execute("INSERT INTO notes (body) VALUES ('while running')") }
        #expect(!kept.contains("gap in continuous capture"), "\(kept)")
        #expect(try bases() == 1 && history().chains.count == 1)
        let gaps = try history().gaps
        #expect(gaps.count == 1 && gaps[0].reason.contains("kept"), "\(gaps)")
        #expect(try newest("kept") == OracleWriter.contentHash(of: db))

        // Now the last connection commits and closes while velo is stopped: the log is checkpointed into the file
        // and removed. The restart must not carry the old chain on as if nothing had happened.
        try open!.execute("INSERT INTO notes (body) VALUES ('while stopped, log removed')")
        open = nil
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "the last connection removed the log")
        let lost = try run(idle: true)
        #expect(lost.contains("gap in continuous capture: the log was checkpointed and removed while velo was stopped"), "\(lost)")
        #expect(try bases() == 2 && history().chains.count == 2)
        #expect(try newest("after-removal") == OracleWriter.contentHash(of: db), "the newest moment holds the commit made while stopped")
    }

    /// A chain that ends at a base velo made (its log position) with nothing read after it, whose log is then
    /// checkpointed and removed while velo is stopped with no commit: the file is that base byte for byte, so the
    /// restart starts a new chain from the same bytes as of the old one's last moment: no gap, and the frames of
    /// the next log, which no longer follow the old position, belong to the new chain (they would otherwise break
    /// the old one).
    @Test func aRestartOverARemovedLogWithNoCommitStartsTheNextChainWhereTheLastEnds() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        var writer: OracleWriter? = try OracleWriter(path: db)
        var velo = try ReplicateProcess(["--db", db, "--repo", repo, "--base-every", "1s"])
        #expect(velo.waitForFirstBatch())
        for _ in 0..<5 { try writer!.commitOne() }
        Thread.sleep(forTimeInterval: 2.5)  // a new base is made at the last commit, and nothing after it
        #expect(velo.stop() == 0)
        let commits = writer!.commits
        writer = nil  // the last connection closes: the log is checkpointed and removed
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "the last connection removed the log")
        let stopped = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        #expect(stopped.chains.count >= 2 && stopped.chains.last!.segments.isEmpty, "\(stopped.chains.map(\.segments.count))")

        velo = try ReplicateProcess(["--db", db, "--repo", repo, "--base-every", "1d"])
        Thread.sleep(forTimeInterval: 1)
        let later = try Database(path: db, mode: .readWrite)
        try later.execute("INSERT INTO posts (id, title) VALUES ('after-restart', 'x')")
        Thread.sleep(forTimeInterval: 1.2)
        #expect(velo.stop() == 0)
        #expect(!velo.stderr.contains("gap"), "\(velo.stderr)")
        let history = try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        #expect(history.gaps.isEmpty, "\(history.gaps)")
        #expect(history.chains.count == stopped.chains.count + 1)
        #expect(history.chains.last!.start == stopped.chains.last!.end, "the new chain starts where the last ended")
        // The moment the old chain ended, a moment of the restart, and the newest.
        let newest = dir.appendingPathComponent("newest.sqlite").path
        #expect(try Self.restore(repo, db, at: history.windows.last!.upperBound, into: newest).status == 0)
        #expect(try OracleWriter.contentHash(of: newest) == OracleWriter.contentHash(of: db))
        let between = dir.appendingPathComponent("between.sqlite").path
        #expect(try Self.restore(repo, db, at: stopped.chains.last!.end + 500, into: between).status == 0)
        #expect(try OracleWriter.contentHash(of: between) == commits.last!.hash)
    }

    /// A chain that read commits (frames after its base) and was stopped: its log is then checkpointed and removed
    /// while velo is stopped with no commit (the last connection closes, as each PHP request's does). A graceful
    /// stop recorded the database as of its last read, and the file is that database, so the restart starts the
    /// next chain where the last ended: no gap. A killed replicator recorded nothing, and the same restart is a gap.
    @Test func aRestartAfterAStopCarriesOnOverARemovedLogAndAfterAKillRecordsAGap() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path, repo = dir.appendingPathComponent("repo").path
        func history() throws -> ContinuousHistory {
            try #require(try ContinuousHistory.load(source: db, storage: LocalStorage(root: repo)))
        }
        /// Runs velo while `write` commits through a connection of its own, then stops velo with `signal`; the
        /// connection, the last, closes after.
        func run(_ signal: Int32, _ write: () throws -> Void) throws -> ReplicateProcess {
            let velo = try ReplicateProcess(["--db", db, "--repo", repo])
            #expect(velo.waitForFirstBatch())
            try write()
            Thread.sleep(forTimeInterval: 1.5)  // read and stored
            velo.stop(signal)
            return velo
        }
        /// Ten commits through a connection of their own that stays open until velo has stopped.
        func runInserting(_ signal: Int32, _ label: String) throws -> ReplicateProcess {
            var connection: Database? = try Database(path: db, mode: .readWrite)
            let velo = try run(signal) {
                for i in 0..<10 { try connection!.execute("INSERT INTO posts (id, title) VALUES ('\(label)-\(i)', 'x')") }
            }
            connection = nil  // the last connection closes: the log is checkpointed and removed
            return velo
        }

        var writer: OracleWriter? = try OracleWriter(path: db)
        let first = try run(SIGTERM) {
            // A VACUUM among them: the database shrinks in the log.
            for i in 0..<40 { try writer!.commitOne(vacuum: i == 20) }
        }
        let last = try #require(writer!.commits.last)
        writer = nil  // the last connection closes: the log is checkpointed and removed
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "the last connection removed the log")
        #expect(first.output.last?.contains("1 of 1 databases recorded as they stand") == true, "\(first.output)")
        let stopped = try history()
        #expect(!stopped.chains.last!.segments.isEmpty, "the chain read frames after its base")
        // A read-only visit while velo is stopped: its connection, the last, removes the log again.
        do {
            let visit = try Database(path: db, mode: .readWrite)
            _ = try visit.scalar("SELECT count(*) FROM posts")
        }
        let second = try runInserting(SIGTERM, "second")
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"))
        #expect(!second.stderr.contains("gap"), "\(second.stderr)")
        let carried = try history()
        #expect(carried.gaps.isEmpty, "\(carried.gaps)")
        #expect(carried.chains.count == stopped.chains.count + 1)
        #expect(carried.chains[stopped.chains.count].start == stopped.chains.last!.end, "the next chain starts where the last ended")
        let between = dir.appendingPathComponent("between.sqlite").path
        #expect(try Self.restore(repo, db, at: stopped.chains.last!.end + 200, into: between).status == 0)
        #expect(try OracleWriter.contentHash(of: between) == last.hash, "a moment while velo was stopped")
        let newest = dir.appendingPathComponent("newest.sqlite").path
        #expect(try Self.restore(repo, db, at: carried.windows.last!.upperBound, into: newest).status == 0)
        #expect(try OracleWriter.contentHash(of: newest) == OracleWriter.contentHash(of: db))

        // Killed: nothing recorded, so the restart over the removed log cannot tell nothing changed.
        _ = try runInserting(SIGKILL, "killed")
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"))
        let velo = try ReplicateProcess(["--db", db, "--repo", repo])
        Thread.sleep(forTimeInterval: 1)
        #expect(velo.stop() == 0)
        #expect(
            velo.stderr.contains("gap in continuous capture: the log was checkpointed and removed while velo was stopped"), "\(velo.stderr)"
        )
        #expect(try history().gaps.count == 1)
    }
}
