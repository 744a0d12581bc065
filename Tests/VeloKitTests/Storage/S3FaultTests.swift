import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The S3 storage through a proxy that fails requests the way networks and servers do (Tests/Fixtures/s3/
/// fault_proxy.py in front of SeaweedFS): 5xx, `SlowDown`, stalls, truncated answers, connections reset mid-body.
/// A transient fault is retried and the bytes read back are exactly the ones written; one that outlasts the
/// attempts is an error naming the object, never data; a failed multipart upload leaves nothing under its name
/// and no upload behind (or one the next run removes); backups through random faults either succeed or fail
/// clearly, and every catalogued snapshot verifies and restores.
@Suite struct S3FaultTests {
    static let attempts = 3
    static let timeout: Int64 = 2
    static let name = StoredName(.snapshot, "20261206T105830Z-0123456789abcdef")
    /// An object larger than a part (a multipart upload of two parts), made once.
    static let large = bytes(S3Storage.partSize + 70_000, seed: 6)

    /// `count` seeded random bytes, eight at a time (a debug build makes megabytes of them in a blink).
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        let words = (0..<(count + 7) / 8).map { _ in random.next() }
        return words.withUnsafeBytes { Array($0.prefix(count)) }
    }

    /// SeaweedFS, a proxy of this test's in front of it, and the same prefix of the test bucket through the proxy
    /// (small timeouts, few attempts) and straight to the server (to look at what is really there).
    struct Rig {
        let proxy: FaultProxy
        let prefix: String
        let storage: S3Storage
        let direct: S3Storage

        /// Another storage through the proxy (another process's, as it were), with its own attempts, timeout and
        /// leftover age.
        func storage(
            attempts: Int = S3FaultTests.attempts, timeout: Int64 = S3FaultTests.timeout, leftoverAge: TimeInterval = 6 * 3600
        )
            throws -> S3Storage
        {
            try S3Storage(
                proxy.location(prefix), environment: SeaweedFS.environment, attempts: attempts, timeoutSeconds: timeout,
                leftoverAge: leftoverAge)
        }

        /// The unfinished multipart uploads under the prefix (ListMultipartUploads, straight to the server).
        func uploads() throws -> [(key: String, id: String)] {
            let response = try direct.client.send(.GET, key: nil, query: [("uploads", ""), ("prefix", direct.s3.key(""))])
            let values = XMLValues.read(response.body, elements: ["Key", "UploadId"])
            return zip(values["Key"] ?? [], values["UploadId"] ?? []).map { (key: $0, id: $1) }
        }

        /// The names of kind `kind` really stored.
        func listed(_ kind: StoredKind) throws -> Set<String> {
            var names = Set<String>()
            try direct.list(kind) { name, _ in names.insert(name.relativePath) }
            return names
        }
    }

    static func rig(_ name: String, timeout: Int64 = S3FaultTests.timeout) throws -> Rig? {
        guard let server = try S3StorageTests.server(), let proxy = try FaultProxy.start(upstreamPort: server.s3Port) else { return nil }
        let prefix = "\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
        return Rig(
            proxy: proxy, prefix: prefix,
            storage: try S3Storage(
                proxy.location(prefix), environment: SeaweedFS.environment, attempts: attempts, timeoutSeconds: timeout),
            direct: try S3Storage(proxy.directLocation(prefix), environment: SeaweedFS.environment))
    }

    /// The storage operations faults are injected into, each with the rule that picks out its request.
    enum Operation: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case put, get, stat, rangedRead, list, partUpload

        var testDescription: String { rawValue }

        func rule(_ action: FaultProxy.Action, times: Int) -> FaultProxy.Rule {
            let path = S3FaultTests.name.relativePath
            switch self {
            case .put: return .init(method: "PUT", path: path, excluding: "partNumber", action: action, times: times)
            case .get: return .init(method: "GET", path: path, action: action, times: times)
            case .stat: return .init(method: "HEAD", path: path, action: action, times: times)
            case .rangedRead: return .init(method: "GET", path: path, header: "range", action: action, times: times)
            case .list: return .init(method: "GET", path: "list-type=2", action: action, times: times)
            case .partUpload: return .init(method: "PUT", path: "partNumber=1", action: action, times: times)
            }
        }
    }

    static func write(_ data: [UInt8], to writer: any StoredObjectWriter) throws {
        for start in stride(from: 0, to: data.count, by: 1 << 20) {
            try writer.write(Array(data[start..<min(data.count, start + (1 << 20))]))
        }
    }

    // MARK: - Transient faults

    /// Each fault, twice (a stall once: it costs a timeout) on each kind of request: retried, and what is read
    /// back (through the proxy, and straight from the server) is exactly what was written.
    @Test(arguments: FaultProxy.Action.allCases.filter(\.isFault), Operation.allCases)
    func aTransientFaultIsRetriedAndTheBytesAreExact(_ fault: FaultProxy.Action, _ operation: Operation) throws {
        // A stall costs a timeout: one second where no request is large.
        let timeout = fault == .stall && operation != .partUpload ? 1 : Self.timeout
        guard let rig = try Self.rig("transient-\(fault.rawValue)-\(operation.rawValue)", timeout: timeout) else { return }
        let name = Self.name
        let times = fault == .stall ? 1 : 2
        let rule = operation.rule(fault, times: times)
        switch operation {
        case .put:
            let data = Self.bytes(200_000, seed: 1)
            rig.proxy.plan([rule])
            try rig.storage.save(name, data)
            #expect(try rig.direct.load(name) == data)
        case .get:
            let data = Self.bytes(300_000, seed: 2)
            try rig.direct.save(name, data)
            rig.proxy.plan([rule])
            #expect(try rig.storage.load(name) == data)
        case .stat:
            try rig.direct.save(name, Self.bytes(12_345, seed: 3))
            rig.proxy.plan([rule])
            #expect(try rig.storage.stat(name)?.size == 12_345)
        case .rangedRead:
            let data = Self.bytes(3 << 20, seed: 4)
            try rig.direct.save(name, data)
            rig.proxy.plan([rule])
            let reader = try rig.storage.open(name)
            #expect(try reader.read(at: 1_000_003, count: 1_500_000) == Array(data[1_000_003..<2_500_003]))
            #expect(try reader.read(at: 5, count: 100) == Array(data[5..<105]))
            #expect(try reader.read(at: Int64(data.count - 9), count: 9) == Array(data.suffix(9)))
        case .list:
            let names = (1...3).map { StoredName(.snapshot, "2026120\($0)T105830Z-0123456789abcdef") }
            for (i, stored) in names.enumerated() { try rig.direct.save(stored, Self.bytes(100 + i, seed: 5)) }
            rig.proxy.plan([rule])
            var seen = Set<String>()
            try rig.storage.list(.snapshot) { stored, _ in seen.insert(stored.relativePath) }
            #expect(seen == Set(names.map(\.relativePath)))
        case .partUpload:
            let data = Self.large
            rig.proxy.plan([rule])
            let writer = try rig.storage.create(name)
            try Self.write(data, to: writer)
            try writer.commit()
            rig.proxy.plan([])
            #expect(try rig.direct.load(name) == data)
            #expect(try rig.uploads().isEmpty, "no upload left behind")
        }
        let entries = rig.proxy.entries
        #expect(entries.filter { $0.action == fault.rawValue }.count == times, "the fault fired: \(entries)")
    }

    // MARK: - Faults that outlast the attempts

    /// An answer that keeps failing (cut short, reset, an error status) past every attempt is an error that
    /// names the object: never data, never "missing" (a transient failure is not an absent object), never a
    /// partial listing. The same reader reads right once the faults stop: nothing of a broken answer was kept.
    @Test(
        arguments: [FaultProxy.Action.truncateBody, .resetMidBody, .resetBeforeResponse, .status500, .slowdown],
        [Operation.get, .stat, .rangedRead, .list])
    func aFaultPastTheAttemptsIsAnErrorNamingTheObject(_ fault: FaultProxy.Action, _ operation: Operation) throws {
        guard let rig = try Self.rig("persistent-\(fault.rawValue)-\(operation.rawValue)") else { return }
        let name = Self.name
        let data = Self.bytes(operation == .rangedRead ? 3 << 20 : 150_000, seed: 7)
        try rig.direct.save(name, data)
        let reader = operation == .rangedRead ? try rig.storage.open(name) : nil
        rig.proxy.plan([operation.rule(fault, times: 99)])
        let start = rig.proxy.entries.count
        let error = #expect(throws: (any Error).self) {
            switch operation {
            case .get: _ = try rig.storage.load(name)
            case .stat: _ = try rig.storage.stat(name)
            case .rangedRead: _ = try reader!.read(at: 1_000_000, count: 2_000_000)
            case .list: try rig.storage.list(.snapshot) { _, _ in }
            case .put, .partUpload: break
            }
        }
        let text = error.map { "\($0)" } ?? ""
        if operation == .list {
            #expect(text.contains(rig.prefix) && text.contains("GET"), "the error names the listing: \(text)")
        } else {
            #expect(text.contains(name.relativePath), "the error names the object: \(text)")
        }
        #expect(!(error is StorageError), "a failed request is not an absent object: \(text)")
        let faulted = rig.proxy.entries(since: start).filter { $0.action == fault.rawValue }
        #expect(faulted.count == Self.attempts, "every attempt was made: \(faulted)")
        rig.proxy.plan([])
        if let reader {
            #expect(try reader.read(at: 1_000_000, count: 2_000_000) == Array(data[1_000_000..<3_000_000]))
        } else {
            #expect(try rig.storage.load(name) == data)
        }
    }

    // MARK: - Multipart uploads

    /// Which request of a multipart upload keeps failing.
    enum UploadStep: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case firstPart, lastPart, completion
        var testDescription: String { rawValue }
        func rule(_ action: FaultProxy.Action) -> FaultProxy.Rule {
            switch self {
            case .firstPart: return .init(method: "PUT", path: "partNumber=1", action: action, times: 99)
            case .lastPart: return .init(method: "PUT", path: "partNumber=2", action: action, times: 99)
            case .completion: return .init(method: "POST", path: "uploadId=", action: action, times: 99)
            }
        }
    }

    /// A multipart upload whose part (or completion) keeps failing: `write` or `commit` throws, nothing is stored
    /// or listed under the name, and the upload was aborted (none is left on the server).
    @Test(arguments: UploadStep.allCases, [FaultProxy.Action.resetMidBody, .status500, .truncateBody])
    func aFailingMultipartUploadLeavesNothing(_ step: UploadStep, _ fault: FaultProxy.Action) throws {
        guard let rig = try Self.rig("multipart-\(step.rawValue)-\(fault.rawValue)") else { return }
        let name = Self.name
        let data = Self.large
        rig.proxy.plan([step.rule(fault)])
        let writer = try rig.storage.create(name)
        let error = #expect(throws: (any Error).self) {
            try Self.write(data, to: writer)
            try writer.commit()
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains(name.relativePath), "the error names the object")
        rig.proxy.plan([])
        if step == .completion && fault == .truncateBody {
            // The server completed the upload each time (a truncated answer is a request that got there; SeaweedFS
            // completes a completed upload again): the object is there although `commit` failed, and whole.
            if try rig.direct.stat(name) != nil { #expect(try rig.direct.load(name) == data, "a whole object or none") }
        } else {
            #expect(try rig.direct.stat(name) == nil, "nothing under the name")
            #expect(try rig.listed(.snapshot).isEmpty, "nothing listed")
        }
        #expect(try rig.uploads().isEmpty, "the upload was aborted")
        let entries = rig.proxy.entries
        #expect(entries.filter { $0.action == fault.rawValue }.count == Self.attempts)
        let aborted: Set<Int> = step == .completion && fault == .truncateBody ? [204, 404] : [204]
        #expect(
            entries.contains {
                $0.method == "DELETE" && $0.target.contains("uploadId=") && $0.action == "pass" && aborted.contains($0.status ?? 0)
            },
            "an abort reached the server: \(entries)")
    }

    /// When the abort fails too (the network is down for good), the upload stays, invisible: a run with the
    /// default leftover age leaves it (it could be a live writer's), and the next one that takes it for a killed
    /// writer's (`leftoverAge: 0`) removes it.
    @Test func anUploadWhoseAbortFailsTooIsRemovedByTheNextRun() throws {
        guard let rig = try Self.rig("abortfails") else { return }
        let name = Self.name
        rig.proxy.plan([
            .init(method: "PUT", path: "partNumber=1", action: .status500, times: 99),
            .init(method: "DELETE", path: "uploadId=", action: .resetBeforeResponse, times: 99),
        ])
        let writer = try rig.storage.create(name)
        // (Parts are sent beside the writer: a part's failure is the writer's at the next part or at `commit`.)
        #expect(throws: (any Error).self) {
            try Self.write(Array(Self.large.prefix(S3Storage.partSize + 1)), to: writer)
            try writer.commit()
        }
        rig.proxy.plan([])
        let left = try rig.uploads()
        #expect(left.count == 1 && left.first?.key.hasSuffix(name.relativePath) == true, "the upload is left: \(left)")
        #expect(try rig.direct.stat(name) == nil)
        #expect(try rig.listed(.snapshot).isEmpty)
        #expect(try rig.storage.removeLeftovers(.snapshot) == 0, "a young upload may be a live writer's")
        #expect(try rig.uploads().count == 1)
        usleep(1_100_000)  // Initiated has whole seconds
        let start = rig.proxy.entries.count
        #expect(try rig.storage(leftoverAge: 0).removeLeftovers(.snapshot) == 1)
        #expect(try rig.uploads().isEmpty, "the next run removed it")
        let aborts = rig.proxy.entries(since: start).filter { $0.method == "DELETE" && $0.target.contains("uploadId=") }
        #expect(aborts.count == 1 && aborts.first?.status == 204, "\(aborts)")
        #expect(try rig.direct.stat(name) == nil)
    }

    /// `removeLeftovers` says how many it removed: an abort that fails is not one (it stays for the next run).
    @Test func aLeftoverWhoseAbortFailsIsNotCounted() throws {
        guard let rig = try Self.rig("leftovercount") else { return }
        let writer = try rig.storage.create(Self.name)
        rig.proxy.plan([
            .init(method: "PUT", path: "partNumber=1", action: .status500, times: 99),
            .init(method: "DELETE", path: "uploadId=", action: .status500, times: 99),
        ])
        // (Parts are sent beside the writer: a part's failure is the writer's at the next part or at `commit`.)
        #expect(throws: (any Error).self) {
            try Self.write(Array(Self.large.prefix(S3Storage.partSize + 1)), to: writer)
            try writer.commit()
        }
        usleep(1_100_000)
        #expect(try rig.storage(leftoverAge: 0).removeLeftovers(.snapshot) == 0, "the abort failed: nothing was removed")
        #expect(try rig.uploads().count == 1)
        rig.proxy.plan([])
        #expect(try rig.storage(leftoverAge: 0).removeLeftovers(.snapshot) == 1)
        #expect(try rig.uploads().isEmpty)
    }

    /// The completion reaches the server but its answer is lost; the retry completes the completed upload again
    /// (SeaweedFS answers 200, as AWS does for a while) or finds it gone. Whatever `commit` says, the object is
    /// whole or absent, and no upload is left; a successful commit is an object.
    @Test func aCompletionWhoseAnswerIsLostLeavesTheObjectWholeOrAbsent() throws {
        guard let rig = try Self.rig("lostcompletion") else { return }
        let name = Self.name
        let data = Self.large
        rig.proxy.plan([.init(method: "POST", path: "uploadId=", action: .resetBeforeResponse, forward: true)])
        let writer = try rig.storage.create(name)
        try Self.write(data, to: writer)
        var outcome = "committed"
        do { try writer.commit() } catch { outcome = "\(error)" }
        rig.proxy.plan([])
        let stored = try rig.direct.stat(name)
        if outcome == "committed" { #expect(stored != nil, "a committed object is there") }
        if stored != nil { #expect(try rig.direct.load(name) == data, "and whole") }
        #expect(try rig.uploads().isEmpty)
        print("S3FaultTests: a lost completion answer: commit \(outcome); object \(stored == nil ? "absent" : "present, whole")")
    }

    // MARK: - Answers lost after the server acted

    /// `saveIfAbsent`'s PUT (`If-None-Match: *`) reaches the server, which creates the object, but the answer is
    /// lost; the retry is refused (412, the object exists). The call did create it, and must say so: locks are
    /// taken this way.
    @Test func aCreationWhoseAnswerIsLostIsStillThisCallsCreation() throws {
        guard let rig = try Self.rig("lostcreation") else { return }
        let data = Self.bytes(500, seed: 11)
        rig.proxy.plan([.init(method: "PUT", path: "locks/", action: .resetBeforeResponse, forward: true)])
        #expect(try rig.storage.saveIfAbsent(.exclusiveLock, data) == true, "this call created it")
        #expect(try rig.direct.load(.exclusiveLock) == data)
    }

    /// The engine's view of the same: the lock's PUT succeeds but its answer is lost. The backup may fail, but
    /// must not leave the repository locked by a lock nobody holds: the next backup runs.
    /// A server that ignores `If-None-Match` (the proxy answers 200 where SeaweedFS refused with 412): velo finds
    /// out with its probe, says so once, and its locks fall back to look, write, wait and read back: a held lock
    /// is never taken, and of two writers that both found none, only the one whose bytes the server kept holds it.
    @Test func aServerThatIgnoresConditionalWritesIsDetectedAndLocksStillExclude() throws {
        guard let rig = try Self.rig("ignoresconditional") else { return }
        rig.proxy.plan([.init(method: "PUT", action: .ignorePrecondition, times: 1000)])
        let storage = try rig.storage()
        #expect(try !storage.conditionalWritesHonoured(), "the probe saw a second creation succeed")
        #expect(try rig.direct.conditionalWritesHonoured(), "SeaweedFS itself honours them")
        let repository = try Repository.open(storage: storage, create: true)
        let lock = try repository.lock(command: "velo backup")
        // Held: the next writer looks first and never writes over it.
        let other = try Repository.open(storage: try rig.storage())
        #expect(throws: RepositoryLock.Failure.self) { _ = try other.lock(command: "velo prune") }
        // Two writers at once, both finding no lock: the one whose bytes are read back holds it.
        let lockPath = "locks/exclusive.json"
        rig.proxy.plan([
            .init(method: "PUT", action: .ignorePrecondition, times: 1000), .init(method: "HEAD", path: lockPath, action: .notFound),
        ])
        #expect(try !other.storage.saveIfAbsent(.exclusiveLock, Array("{\"pid\":1}".utf8)))
        #expect(try rig.direct.load(.exclusiveLock) != Array("{\"pid\":1}".utf8), "the holder's lock is untouched")
        lock.release()
        rig.proxy.plan([.init(method: "PUT", action: .ignorePrecondition, times: 1000)])
        let second = try other.lock(command: "velo prune")
        second.release()
        #expect(try rig.direct.stat(.exclusiveLock) == nil)
    }

    @Test func aLockWhoseAnswerIsLostDoesNotBlockTheNextBackup() throws {
        guard let rig = try Self.rig("lostlock") else { return }
        let source = try Fixtures.demo(posts: 40)
        let repository = try Repository.open(storage: rig.storage, create: true)
        rig.proxy.plan([.init(method: "PUT", path: "locks/", action: .resetBeforeResponse, forward: true)])
        do { _ = try Backup.run(databasePath: source, repository: repository, options: .init()) } catch {
            #expect(!"\(error)".contains("pid \(getpid()) "), "the lock it failed on is its own: \(error)")
        }
        rig.proxy.plan([])
        #expect(throws: Never.self) { _ = try Backup.run(databasePath: source, repository: repository, options: .init()) }
    }

    /// The lock's release (its conditional DELETE) fails for good. A velo that exits leaves a stale lock the next
    /// one takes over; a process that goes on (`velo serve`) must not lock itself out.
    @Test func aLockWhoseReleaseFailsDoesNotBlockTheSameProcess() throws {
        guard let rig = try Self.rig("releasefails") else { return }
        let source = try Fixtures.demo(posts: 40)
        let repository = try Repository.open(storage: rig.storage, create: true)
        rig.proxy.plan([.init(method: "DELETE", path: "locks/", action: .status500, times: 99)])
        _ = try Backup.run(databasePath: source, repository: repository, options: .init())
        rig.proxy.plan([])
        #expect(throws: Never.self) { _ = try Backup.run(databasePath: source, repository: repository, options: .init()) }
    }

    // MARK: - The engine through random faults

    /// A seeded random plan: a few rules over the requests a backup makes (PUTs, GETs and HEADs of segment lists,
    /// packs, archives, catalog entries and the sweep marker, listings, DELETEs, multipart requests, or any
    /// request at all), some firing more often than there are attempts, some after the server did the work. The
    /// lock's requests are left alone: what its lost answers do is the tests above.
    static func randomPlan(_ random: inout SeededRandom) -> [FaultProxy.Rule] {
        let targets: [(String?, String?)] = [
            ("PUT", "data/lists/"), ("GET", "data/lists/"), ("HEAD", "data/lists/"), ("PUT", "data/packs/"), ("GET", "data/packs/"),
            ("PUT", "snapshots/"), ("GET", "snapshots/"), ("PUT", "catalog/"), ("GET", "catalog/"), ("GET", "list-type=2"),
            ("PUT", "data/sweep"), ("HEAD", "data/sweep"), ("DELETE", nil), ("POST", nil), ("GET", "uploads"), (nil, nil), ("PUT", nil),
        ]
        let actions: [FaultProxy.Action] = [.status500, .status503, .slowdown, .truncateBody, .resetMidBody, .resetBeforeResponse]
        func pick(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
        var rules = (0..<(3 + pick(4))).map { _ in
            let (method, path) = targets[pick(targets.count)]
            let stall = pick(20) == 0
            let action = stall ? .stall : actions[pick(actions.count)]
            return FaultProxy.Rule(
                method: method, path: path, excluding: "locks/", action: action, times: stall ? 1 : 1 + pick(4), after: pick(5),
                forward: action != .truncateBody && action != .resetMidBody && pick(3) == 0)
        }
        // And one that outlasts the attempts somewhere a run goes (a backup makes a few of each of these requests).
        let fatal: [(String, String, Int)] = [
            ("PUT", "data/lists/", 3), ("GET", "data/lists/", 8), ("HEAD", "data/lists/", 5), ("PUT", "snapshots/", 1),
            ("PUT", "catalog/", 2), ("GET", "list-type=2", 5), ("PUT", "data/sweep", 1), ("DELETE", "data/sweep", 1),
        ]
        let (method, path, most) = fatal[pick(fatal.count)]
        rules.insert(
            FaultProxy.Rule(
                method: method, path: path, excluding: "locks/", action: actions[pick(actions.count)], times: attempts + pick(2),
                after: pick(most), forward: pick(3) == 0),
            at: pick(rules.count + 1))
        return rules
    }

    /// Backups of a changing database through random faults: each either succeeds or fails with an error that
    /// says what failed; after each, a backup without faults succeeds, every catalogued snapshot verifies (read
    /// straight from the server), nothing catalogued points at missing data, and the newest restores to the
    /// source exactly (but for the tables velo leaves out, which it restores empty).
    @Test func backupsThroughRandomFaultsLoseNothing() throws {
        guard let rig = try Self.rig("engine") else { return }
        let source = try Fixtures.demo(posts: 200)
        let repository = try Repository.open(storage: rig.storage, create: true)
        let db = try Database(path: source, mode: .readWrite)
        var random = SeededRandom(seed: 0xFA17_5EED)
        var outcomes: [String] = []
        var succeeded = 0
        var verified = Set<String>()
        let shared = VerifiedParts()
        for round in 0..<6 {
            if round > 0 {
                try db.execute("UPDATE _velo_posts SET title = title || '~\(round)' WHERE rowid % \(round + 4) = 0")
                try db.execute("DELETE FROM _velo_posts WHERE rowid % \(round + 20) = 1")
            }
            let plan = Self.randomPlan(&random)
            rig.proxy.plan(plan)
            let start = rig.proxy.entries.count
            do {
                _ = try Backup.run(databasePath: source, repository: repository, options: .init())
                succeeded += 1
                outcomes.append("round \(round): ok")
            } catch {
                let text = "\(error)"
                #expect(error is any VeloFailure || error is S3Client.Failure, "a typed error: \(type(of: error)) \(text)")
                #expect(text.contains("s3:http://127.0.0.1:\(rig.proxy.port)/"), "the error says where: \(text)")
                outcomes.append("round \(round): \(text)")
            }
            let fired = rig.proxy.entries(since: start).filter { $0.action != "pass" }.count
            outcomes[outcomes.count - 1] += " (\(fired) faults)"
            rig.proxy.plan([])
            // The next backup, as the next velo would run it (its own storage, patient: it must not fail).
            let next = try Repository.open(storage: try rig.storage(attempts: 5, timeout: 60))
            let clean = try Backup.run(databasePath: source, repository: next, options: .init())
            succeeded += 1
            // What is really stored, read straight from the server.
            let direct = try Repository.open(storage: rig.direct)
            let entries = try direct.catalog.entries()
            #expect(entries.count >= succeeded, "every successful backup is catalogued")
            for entry in entries where !verified.contains(entry.id) {
                let report = try Verifier.verify(.catalogued(entry, repository: direct), verifiedParts: shared)
                #expect(report.ok, "round \(round), \(entry.id): \(report.problems)")
                verified.insert(entry.id)
            }
            let restored = Fixtures.temporaryDirectory().appendingPathComponent("round\(round).sqlite").path
            _ = try NewDatabaseRestore.run(
                .catalogued(try #require(direct.catalog.entry(clean.id)), repository: direct), manifest: nil, archiveSHA256: nil,
                to: restored)
            let want = try Self.fingerprint(source, leaving: clean.excludedTables)
            let got = try Self.fingerprint(restored, leaving: clean.excludedTables)
            let same = got == want
            #expect(same, "round \(round): the restore differs from the source: \(Self.firstDifference(want, got))")
        }
        // At the end, every snapshot again, each part read afresh.
        let direct = try Repository.open(storage: rig.direct)
        for entry in try direct.catalog.entries() {
            let report = try Verifier.verify(.catalogued(entry, repository: direct))
            #expect(report.ok, "\(entry.id): \(report.problems)")
        }
        print("S3FaultTests: backups through random faults: \(outcomes.joined(separator: "; "))")
    }

    /// The rows of every table but `leaving` (velo backs those up empty: caches, sessions), in rowid order.
    static func fingerprint(_ path: String, leaving: [String]) throws -> String {
        let db = try Database(path: path, mode: .readOnly)
        var text = ""
        for row in try db.rows("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") {
            guard case .text(let table) = row[0] else { continue }
            let rows = leaving.contains(table) ? [] : try db.rows("SELECT * FROM \"\(table)\" ORDER BY rowid")
            text += "\(table):\(rows.map { "\($0)" }.joined(separator: "|"))\n"
        }
        return text
    }

    /// The first line where two fingerprints differ, shortened.
    static func firstDifference(_ a: String, _ b: String) -> String {
        let (x, y) = (
            a.split(separator: "\n", omittingEmptySubsequences: false), b.split(separator: "\n", omittingEmptySubsequences: false)
        )
        for (i, (p, q)) in zip(x, y).enumerated() where p != q {
            let common = zip(p, q).prefix { $0 == $1 }.count
            return "line \(i): …\(p.dropFirst(max(0, common - 80)).prefix(300)) ≠ …\(q.dropFirst(max(0, common - 80)).prefix(300))"
        }
        return "\(x.count) lines ≠ \(y.count) lines"
    }
}
