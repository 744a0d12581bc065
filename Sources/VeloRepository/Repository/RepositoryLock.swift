import Foundation
import VeloFormat
import VeloStorage

/// A lock on a repository: an object of kind `lock` (`exclusive.json` for writers: backup, prune, restore's
/// safety snapshot; `round.json` for `velo run` rounds), created only if absent, naming its owner. A lock left
/// by a process that is gone (same host, no such pid) is stale: the next taker reports it and takes it over, as
/// restic does, so a killed backup never blocks the next one. A lock of another host is stale when its heartbeat
/// stopped (`LockHeartbeat`, `LockTiming`: no sign of life for 30 minutes), so a server that died holding the lock
/// of a shared bucket blocks the others for half an hour, not until someone runs `velo unlock`. The takeover
/// removes the stale lock only while it is unchanged (`removeIfUnchanged`), so of two takers exactly one wins. A
/// live owner is never overridden; `velo unlock` removes a stale lock, and `--force` any lock.
public final class RepositoryLock {
    /// Who holds a lock.
    public struct Owner: Equatable, Sendable {
        public var pid: Int32
        public var host: String
        public var time: Int64
        public var command: String
        /// What makes this taking's bytes unique, and names its heartbeat object.
        public var nonce: String?

        var json: JSONValue {
            .object([
                ("pid", .int(pid)), ("host", .string(host)), ("time", .string(Timestamp.iso8601(time))), ("command", .string(command)),
            ])
        }

        init(pid: Int32, host: String, time: Int64, command: String) {
            self.pid = pid
            self.host = host
            self.time = time
            self.command = command
        }

        init?(json: JSONValue) {
            guard let pid = json["pid"]?.intValue else { return nil }
            self.pid = Int32(clamping: pid)
            host = json["host"]?.stringValue ?? "?"
            time = json["time"]?.stringValue.flatMap(Timestamp.parseISO8601) ?? 0
            command = json["command"]?.stringValue ?? "velo"
            nonce = json["nonce"]?.stringValue
        }

        /// True when the owner ran on this host and its process no longer exists.
        public var isGone: Bool {
            host == FileSystem.hostName && kill(pid, 0) != 0 && errno == ESRCH
        }

        public var summary: String { "\(command) (pid \(pid) on \(host) since \(Timestamp.iso8601(time)))" }
    }

    /// Why the lock could not be taken.
    public enum Failure: VeloFailure {
        public var kind: ErrorKind { .locked }
        case held(repository: String, owner: Owner)
        case stale(repository: String, owner: Owner, reason: String)
        case unreadable(repository: String, path: String)

        public var description: String {
            switch self {
            case .held(let repo, let owner):
                return "\(repo): repository is locked by \(owner.summary); try again when it finishes"
            case .stale(let repo, let owner, let reason):
                return "\(repo): repository has a stale lock left by \(owner.summary), \(reason)"
            case .unreadable(let repo, let path):
                return "\(repo): repository is locked (\(path) exists but cannot be read)"
            }
        }

        public var remedy: Remedy? {
            switch self {
            case .held: return nil
            case .stale(let repo, _, _): return .removeStaleLock(repository: repo)
            case .unreadable(let repo, _): return .forceUnlock(repository: repo)
            }
        }
    }

    /// The lock object.
    public let name: StoredName
    public let owner: Owner
    /// The owner of a stale lock this lock replaced, to be reported.
    public private(set) var replacedStaleOwner: Owner?
    /// Why that lock was stale (`whose process is gone`, `whose heartbeat stopped …`).
    public private(set) var replacedStaleReason: String?
    private let heartbeat: LockHeartbeat
    private let storage: any RepositoryStorage
    /// What this lock's object holds: it is released only while it still holds exactly this.
    private let bytes: [UInt8]
    private var released = false

    private init(storage: any RepositoryStorage, name: StoredName, owner: Owner, bytes: [UInt8], timing: LockTiming) {
        self.storage = storage
        self.name = name
        self.owner = owner
        self.bytes = bytes
        heartbeat = LockHeartbeat(
            storage: storage, name: LockHeartbeat.name(of: name, nonce: owner.nonce ?? ""), interval: timing.refreshInterval)
    }

    deinit { release() }

    /// Takes the lock `name` of the repository in `storage` for `command`, or throws `Failure`. While it is held,
    /// its heartbeat is written every `timing.refreshInterval`.
    package static func acquire(
        storage: any RepositoryStorage, name: StoredName = .exclusiveLock, command: String, timing: LockTiming = LockTiming()
    ) throws -> RepositoryLock {
        var owner = Owner(pid: getpid(), host: FileSystem.hostName, time: Timestamp.now, command: command)
        // A nonce makes each taking's bytes unique, so that a lock is known as this taking's by its bytes alone.
        var random = SystemRandomNumberGenerator()
        owner.nonce = SnapshotID.random(using: &random)
        var json = owner.json
        if case .object(var pairs) = json, let nonce = owner.nonce {
            pairs.append(("nonce", .string(nonce)))
            json = .object(pairs)
        }
        let bytes = Array(JSONWriter.string(json).utf8)
        var replaced: (owner: Owner, reason: String)?
        // Known as held before it exists, so that another task of this process never sees it unheld.
        Held.insert(bytes)
        var taken = false
        defer { if !taken { Held.remove(bytes) } }
        // Each turn either takes the lock, fails, or removes a stale lock that was still there: a few turns at most.
        for _ in 0..<16 {
            if try storage.saveIfAbsent(name, bytes) {
                taken = true
                let lock = RepositoryLock(storage: storage, name: name, owner: owner, bytes: bytes, timing: timing)
                lock.replacedStaleOwner = replaced?.owner
                lock.replacedStaleReason = replaced?.reason
                return lock
            }
            let existingBytes: [UInt8]
            do { existingBytes = try storage.load(name) } catch StorageError.missing { continue }  // released meanwhile
            guard let existing = (try? JSONParser.parse(existingBytes)).flatMap(Owner.init(json:)) else {
                throw Failure.unreadable(repository: storage.location, path: name.relativePath)
            }
            // A lock of this very process that no live lock object holds was lost track of (its release failed on
            // the network): as stale as a dead process's, or this process (`velo serve`) would stay locked out.
            let lostByThisProcess = existing.pid == getpid() && existing.host == FileSystem.hostName && !Held.contains(existingBytes)
            let reason =
                lostByThisProcess
                ? "which this process lost track of" : try staleness(of: existing, name: name, in: storage, timing: timing)
            guard let reason else { throw Failure.held(repository: storage.location, owner: existing) }
            if try storage.removeIfUnchanged(name, expected: existingBytes) {
                replaced = (existing, reason)
                if let nonce = existing.nonce { try? storage.remove(LockHeartbeat.name(of: name, nonce: nonce)) }
            }
        }
        throw VeloError("\(storage.location): \(name.relativePath) keeps changing; another velo is taking the lock", kind: .locked)
    }

    /// Why the lock `name` held by `owner` is stale, or nil while its owner may be alive: on this host, when its
    /// process is gone; on another, when neither the lock nor its heartbeat was written for `timing.staleAfter`.
    static func staleness(of owner: Owner, name: StoredName, in storage: any RepositoryStorage, timing: LockTiming) throws -> String? {
        if owner.host == FileSystem.hostName { return owner.isGone ? "whose process is gone" : nil }
        var newest = try storage.stat(name)?.modified ?? 0
        if let nonce = owner.nonce, let beat = try storage.stat(LockHeartbeat.name(of: name, nonce: nonce)) {
            newest = max(newest, beat.modified)
        }
        let silent = Timestamp.now - newest
        guard silent > timing.staleSeconds else { return nil }
        return "whose heartbeat stopped \(Interval(seconds: silent)) ago (stale after \(Interval(seconds: timing.staleSeconds)))"
    }

    /// The owner of the lock `name`, if the repository is locked.
    static func current(storage: any RepositoryStorage, name: StoredName = .exclusiveLock) -> Owner? {
        guard let bytes = try? storage.load(name), let json = try? JSONParser.parse(bytes) else { return nil }
        return Owner(json: json)
    }

    /// Releases the lock (also on deinit), only if the lock object is still this owner's.
    public func release() {
        guard !released else { return }
        released = true
        heartbeat.stop()
        Held.remove(bytes)
        _ = try? storage.removeIfUnchanged(name, expected: bytes)
    }

    /// The bytes of the locks this process holds (live `RepositoryLock`s), to tell them from ones it lost.
    private enum Held {
        nonisolated(unsafe) static var bytes: Set<[UInt8]> = []
        static let lock = NSLock()
        static func insert(_ b: [UInt8]) { lock.withLock { _ = bytes.insert(b) } }
        static func remove(_ b: [UInt8]) { lock.withLock { _ = bytes.remove(b) } }
        static func contains(_ b: [UInt8]) -> Bool { lock.withLock { bytes.contains(b) } }
    }
}
