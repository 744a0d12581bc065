import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct RepositoryTests {
    @Test func aCreationKilledAtAnyPointIsFinishedByTheNextOpen() throws {
        let dir = Fixtures.temporaryDirectory()
        // Killed before the marker: an empty folder, or one with only the marker's hidden temporary file.
        let early = dir.appendingPathComponent("early").path
        try FileManager.default.createDirectory(atPath: early, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: early + "/.velo-repository.json.tmp-999999", contents: Data("{".utf8))
        let repo = try Repository.open(early, create: true)
        // Killed after the marker: the folders the next open makes.
        for sub in ["catalog", "locks", "snapshots", "tmp"] { try FileManager.default.removeItem(atPath: repo.path(sub)) }
        let reopened = try Repository.open(early)
        let backup = try Backup.run(databasePath: try Fixtures.demo(posts: 3), repository: reopened, options: .init())
        #expect(try reopened.catalog.entries().map(\.id) == [backup.id])
    }

    @Test func createsOpensAndRefusesStrangeFolders() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("repo").path
        #expect(throws: VeloError.self) { try Repository.open(path) }
        let repo = try Repository.open(path, create: true)
        #expect(Repository.exists(at: path))
        #expect(try Repository.open(path).root == repo.root)
        let busy = dir.appendingPathComponent("busy")
        try FileManager.default.createDirectory(at: busy, withIntermediateDirectories: true)
        try "x".write(to: busy.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        #expect(throws: VeloError.self) { try Repository.open(busy.path, create: true) }
        let future = dir.appendingPathComponent("future")
        try FileManager.default.createDirectory(at: future, withIntermediateDirectories: true)
        try #"{"format":"velo-repository","version":9}"#.write(
            to: future.appendingPathComponent(StoredName.config.relativePath), atomically: true, encoding: .utf8)
        #expect(throws: VeloError.self) { try Repository.open(future.path) }
    }

    @Test func aSecondWriterIsToldWhoHoldsTheLock() throws {
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        let lock = try repo.lock(command: "velo backup")
        do {
            _ = try repo.lock(command: "velo prune")
            Issue.record("a second lock was granted")
        } catch let failure as RepositoryLock.Failure {
            let text = failure.description
            #expect(text.contains("locked by velo backup") && text.contains("pid \(getpid())"), "\(text)")
        }
        #expect(throws: VeloError.self) { _ = try repo.unlock(force: false) }
        lock.release()
        let again = try repo.lock(command: "velo backup")
        again.release()
    }

    @Test func aStaleLockIsReportedAndTakenOverOrRemovedByUnlock() throws {
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        // A lock left by a process that no longer exists on this host.
        let owner = JSONValue.object([
            ("pid", .int(2_000_000_000)), ("host", .string(ProcessInfo.processInfo.hostName)),
            ("time", .string("2026-11-01T03:00:00Z")), ("command", .string("velo backup")),
        ])
        try JSONWriter.string(owner).write(toFile: repo.path("locks/exclusive.json"), atomically: true, encoding: .utf8)
        #expect(repo.lockOwner?.isGone == true)
        #expect(try repo.unlock(force: false)?.pid == 2_000_000_000)
        #expect(repo.lockOwner == nil)
        // A round's lock left the same way goes the same way (a round on another host needs --force).
        try JSONWriter.string(owner).write(toFile: repo.path("locks/round.json"), atomically: true, encoding: .utf8)
        #expect(try repo.unlock(.roundLock, force: false)?.pid == 2_000_000_000)
        #expect(try repo.storage.stat(.roundLock) == nil)
        try JSONWriter.string(owner).write(toFile: repo.path("locks/exclusive.json"), atomically: true, encoding: .utf8)
        let lock = try repo.lock(command: "velo backup")
        #expect(lock.replacedStaleOwner?.pid == 2_000_000_000)
        #expect(repo.lockOwner?.pid == getpid())
        lock.release()
        // A lock from another host is never taken over.
        let foreign = JSONValue.object([
            ("pid", .int(1)), ("host", .string("some-other-host")), ("time", .string("2026-11-01T03:00:00Z")),
            ("command", .string("velo backup")),
        ])
        try JSONWriter.string(foreign).write(toFile: repo.path("locks/exclusive.json"), atomically: true, encoding: .utf8)
        #expect(throws: RepositoryLock.Failure.self) { try repo.lock(command: "velo backup") }
        #expect(throws: VeloError.self) { try repo.unlock(force: false) }
        #expect(try repo.unlock(force: true)?.host == "some-other-host")
    }

    /// A lock of another host cannot be asked whether its process lives: its heartbeat says so. Silent for
    /// longer than the stale timeout, the lock is taken over (reported with the silence) or unlocked without
    /// --force; a recent heartbeat beside an old lock keeps it held.
    @Test func aLockOfAnotherHostIsStaleOnceItsHeartbeatStops() throws {
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        repo.lockTiming = LockTiming(refreshInterval: .seconds(300), staleAfter: .seconds(1800))
        let foreign = JSONValue.object([
            ("pid", .int(1)), ("host", .string("some-other-host")), ("time", .string("2026-11-01T03:00:00Z")),
            ("command", .string("velo backup")), ("nonce", .string("0123456789abcdef")),
        ])
        let lockFile = repo.path("locks/exclusive.json")
        let heartbeatFile = repo.path("locks/exclusive.0123456789abcdef.heartbeat.json")
        func age(_ path: String, minutes: Int) {
            var times = [timeval(tv_sec: time(nil) - minutes * 60, tv_usec: 0), timeval(tv_sec: time(nil) - minutes * 60, tv_usec: 0)]
            #expect(utimes(path, &times) == 0)
        }
        try JSONWriter.string(foreign).write(toFile: lockFile, atomically: true, encoding: .utf8)
        age(lockFile, minutes: 45)
        try "{}".write(toFile: heartbeatFile, atomically: true, encoding: .utf8)
        age(heartbeatFile, minutes: 4)
        #expect(throws: RepositoryLock.Failure.self) { try repo.lock(command: "velo backup") }
        #expect(throws: VeloError.self) { try repo.unlock(force: false) }
        // The heartbeat stopped 31 minutes ago: the next writer takes the lock over and says why.
        age(heartbeatFile, minutes: 31)
        let lock = try repo.lock(command: "velo backup")
        #expect(lock.replacedStaleOwner?.host == "some-other-host")
        #expect(lock.replacedStaleReason?.contains("heartbeat stopped 31m") == true, "\(lock.replacedStaleReason ?? "")")
        #expect(!FileManager.default.fileExists(atPath: heartbeatFile), "the stale lock's heartbeat is removed with it")
        lock.release()
        // `velo unlock` removes such a lock without --force.
        try JSONWriter.string(foreign).write(toFile: lockFile, atomically: true, encoding: .utf8)
        age(lockFile, minutes: 40)
        #expect(try repo.unlock(force: false)?.host == "some-other-host")
    }

    /// What killed writers leave beside the locks goes with the next full recovery: a heartbeat whose lock is gone,
    /// once it is stale, and a conditional-write probe an hour old; a fresh one of each stays (its writer may live).
    @Test func litterBesideTheLocksIsRemovedOnceItIsOld() throws {
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        func write(_ name: String, minutesAgo: Int) throws {
            let path = repo.path("locks/\(name)")
            try "{}".write(toFile: path, atomically: true, encoding: .utf8)
            var times = [
                timeval(tv_sec: time(nil) - minutesAgo * 60, tv_usec: 0), timeval(tv_sec: time(nil) - minutesAgo * 60, tv_usec: 0),
            ]
            #expect(utimes(path, &times) == 0)
        }
        try write("exclusive.00000000000000aa.heartbeat.json", minutesAgo: 45)
        try write("exclusive.00000000000000bb.heartbeat.json", minutesAgo: 2)
        try write("probe-00000000000000cc.json", minutesAgo: 90)
        try write("probe-00000000000000dd.json", minutesAgo: 1)
        try repo.lock(command: "velo backup").release()
        let left = try FileManager.default.contentsOfDirectory(atPath: repo.path("locks")).filter { !$0.hasPrefix(".") && $0 != "guard" }
            .sorted()
        #expect(left == ["exclusive.00000000000000bb.heartbeat.json", "probe-00000000000000dd.json"], "\(left)")
    }

    /// A held lock's heartbeat object is rewritten every refresh interval and removed on release; a lock held
    /// for less than one interval writes none (no request).
    @Test func aHeldLockWritesItsHeartbeatUntilReleased() throws {
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        repo.lockTiming = LockTiming(refreshInterval: .milliseconds(300), staleAfter: .seconds(120))
        func heartbeats() throws -> [StoredName] {
            var names: [StoredName] = []
            try repo.storage.list(.lock) { name, _ in if name.name.hasSuffix(".heartbeat.json") { names.append(name) } }
            return names
        }
        let short = try repo.lock(command: "velo backup")
        short.release()
        #expect(try heartbeats().isEmpty)
        let lock = try repo.lock(command: "velo backup")
        usleep(1_000_000)
        let beating = try heartbeats()
        let nonce = try #require(lock.owner.nonce)
        #expect(beating.count == 1 && beating[0].name.contains(nonce), "\(beating)")
        let json = try JSONParser.parse(try repo.storage.load(beating[0]))
        #expect(json["pid"]?.intValue == Int(getpid()))
        lock.release()
        #expect(try heartbeats().isEmpty, "released with its heartbeat")
    }

    @Test func leftoversOfAnInterruptedWriterAreCleanedUpOrAdopted() throws {
        let dir = Fixtures.temporaryDirectory()
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let db = try Fixtures.demo(posts: 10)
        let kept = try Backup.run(databasePath: db, repository: repo, options: .init())
        // An archive renamed into place but never catalogued (a crash between the two steps).
        let orphan = try Backup.run(databasePath: db, repository: repo, options: .init())
        repo.catalog.remove(orphan.id)
        // A partial archive and a temporary copy from a killed run.
        let partial = (orphan.archive as NSString).deletingLastPathComponent + "/.20260101T000000Z-dead.tar.zst.partial"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: partial))
        try Data([4]).write(to: URL(fileURLWithPath: repo.path("tmp/copy-1.sqlite")))
        #expect(try repo.catalog.entries().map(\.id) == [kept.id])
        try repo.lock(command: "velo backup").release()
        #expect(Set(try repo.catalog.entries().map(\.id)) == [kept.id, orphan.id])
        #expect(!FileManager.default.fileExists(atPath: partial))
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo.path("tmp")).isEmpty)
    }

    @Test func selectorsTakeIdsPrefixesLatestAndPaths() throws {
        let dir = Fixtures.temporaryDirectory()
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let db = try Fixtures.demo(posts: 5)
        var ids: [String] = []
        for i in 0..<3 {
            var options = Backup.Options()
            options.time = 1_790_000_000 + Int64(i) * 3600
            ids.append(try Backup.run(databasePath: db, repository: repo, options: options).id)
        }
        #expect(try SelectedSnapshot.resolve("latest", repository: repo).id == ids[2])
        // (the ambiguity check below adds snapshots after these)
        #expect(try SelectedSnapshot.resolve(ids[1], repository: repo).id == ids[1])
        #expect(try SelectedSnapshot.resolve(String(ids[0].prefix(10)), repository: repo).id == ids[0])
        #expect(throws: VeloError.self) { try SelectedSnapshot.resolve("zzzz", repository: repo) }
        // An ambiguous prefix lists the candidates (17 ids of 16 hex digits: two share a first digit).
        var all = ids
        while Set(all.map(\.first)).count == all.count {
            var options = Backup.Options()
            options.time = 1_790_000_000 + Int64(all.count) * 3600
            all.append(try Backup.run(databasePath: db, repository: repo, options: options).id)
        }
        let digit = String(Dictionary(grouping: all, by: \.first).first { $0.value.count > 1 }!.key!)
        do {
            _ = try SelectedSnapshot.resolve(digit, repository: repo)
            Issue.record("an ambiguous prefix matched one snapshot")
        } catch let error as VeloError {
            #expect(
                error.message.contains("ambiguous") && all.filter { $0.hasPrefix(digit) }.allSatisfy { error.message.contains($0) },
                "\(error)")
        }
        // An empty name selects nothing, even in a repository of one snapshot.
        for empty in ["", "  "] {
            #expect(throws: VeloError.self) { try SelectedSnapshot.resolve(empty, repository: repo) }
        }
        // A lone archive copied elsewhere is selected by its path.
        let archive = repo.path(try repo.catalog.entries()[0].archive)
        let copy = dir.appendingPathComponent("elsewhere.tar.zst").path
        try FileManager.default.copyItem(atPath: archive, toPath: copy)
        if case .archive(let path) = try SelectedSnapshot.resolve(copy, repository: nil) {
            #expect(path == copy)
        } else {
            Issue.record("not a lone archive")
        }
        #expect(try SelectedSnapshot.resolve(archive, repository: repo).id == ids[0])
    }

    @Test func snapshotsAreFiledByTimeAndCataloguedWithTheirManifest() throws {
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        var options = Backup.Options()
        options.time = Timestamp.parseISO8601("2026-03-04T05:06:07+01:00")!
        let result = try Backup.run(databasePath: try Fixtures.demo(posts: 5), repository: repo, options: options)
        #expect(result.archive.hasSuffix("snapshots/2026/03/20260304T040607Z-\(result.id).tar.zst"))
        let entry = try #require(try repo.catalog.entries().first)
        #expect(entry.time == options.time && entry.archiveSHA256 == result.sha256)
        let detail = try repo.catalog.detail(entry.id)
        #expect(detail.header.id == result.id && detail.manifest.snapshotID == result.id)
        #expect(detail.manifest.table("_velo_posts")?.rows == 5)
    }
}
