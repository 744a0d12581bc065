import Foundation

/// The exclusive lock writers (backup, prune, restore's safety snapshot) take on a repository: the file
/// `locks/exclusive.json`, created only if absent, naming its owner. A lock left by a process that is gone
/// (same host, no such pid) is stale: the next writer reports it and takes it over, as restic does, so a killed
/// backup never blocks the next one. A live owner, or one on another host, is never overridden; `velo unlock`
/// removes a stale lock, and `--force` any lock.
public final class RepositoryLock {
    /// Who holds a lock.
    public struct Owner: Equatable, Sendable {
        public var pid: Int32
        public var host: String
        public var time: Int64
        public var command: String

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
        case stale(repository: String, owner: Owner)
        case unreadable(repository: String, path: String)

        public var description: String {
            switch self {
            case .held(let repo, let owner):
                return "\(repo): repository is locked by \(owner.summary); try again when it finishes"
            case .stale(let repo, let owner):
                return "\(repo): repository has a stale lock left by \(owner.summary), whose process is gone"
            case .unreadable(let repo, let path):
                return "\(repo): repository is locked (\(path) exists but cannot be read)"
            }
        }

        public var remedy: Remedy? {
            switch self {
            case .held: return nil
            case .stale(let repo, _): return .removeStaleLock(repository: repo)
            case .unreadable(let repo, _): return .forceUnlock(repository: repo)
            }
        }
    }

    public let path: String
    public let owner: Owner
    /// The owner of a stale lock this lock replaced, to be reported.
    public private(set) var replacedStaleOwner: Owner?
    private var released = false

    private init(path: String, owner: Owner) {
        self.path = path
        self.owner = owner
    }

    deinit { release() }

    /// Takes the lock of the repository at `root` for `command`, or throws `Failure`.
    /// Velo processes decide under a short `flock` on `locks/guard`, so two of them can never both take over the
    /// same stale lock; the lock file appears with its content at once (written aside, then hard-linked).
    static func acquire(root: String, command: String) throws -> RepositoryLock {
        let directory = (root as NSString).appendingPathComponent("locks")
        try FileSystem.createDirectory(directory)
        let path = (directory as NSString).appendingPathComponent("exclusive.json")
        let owner = Owner(pid: getpid(), host: FileSystem.hostName, time: Timestamp.now, command: command)
        let guardFile = try Guard(directory: directory)
        defer { guardFile.unlock() }
        var replaced: Owner?
        if FileSystem.exists(path) {
            guard let existing = current(root: root) else { throw Failure.unreadable(repository: root, path: path) }
            guard existing.isGone else { throw Failure.held(repository: root, owner: existing) }
            unlink(path)
            replaced = existing
        }
        let aside = path + ".new-\(getpid())"
        unlink(aside)
        try FileSystem.writeAtomically(Array(JSONWriter.string(owner.json).utf8), to: aside)
        defer { unlink(aside) }
        guard link(aside, path) == 0 else {
            if errno == EEXIST, let winner = current(root: root) { throw Failure.held(repository: root, owner: winner) }
            throw VeloError("\(path): cannot create lock: \(String(cString: strerror(errno)))")
        }
        FileSystem.syncDirectory(directory)
        let lock = RepositoryLock(path: path, owner: owner)
        lock.replacedStaleOwner = replaced
        return lock
    }

    /// A short-lived exclusive `flock` that serialises lock decisions between velo processes.
    struct Guard {
        let fd: Int32

        init(directory: String) throws {
            let path = (directory as NSString).appendingPathComponent("guard")
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw VeloError("\(path): cannot open: \(String(cString: strerror(errno)))") }
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        }

        func unlock() {
            flock(fd, LOCK_UN)
            close(fd)
        }
    }

    /// The owner of the repository's lock, if it is locked.
    static func current(root: String) -> Owner? {
        let path = (root as NSString).appendingPathComponent("locks/exclusive.json")
        guard let bytes = try? FileSystem.read(path), let json = try? JSONParser.parse(bytes) else { return nil }
        return Owner(json: json)
    }

    /// Releases the lock (also on deinit), only if the lock file is still this owner's.
    public func release() {
        guard !released else { return }
        released = true
        let root = ((path as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        guard let guardFile = try? Guard(directory: (path as NSString).deletingLastPathComponent) else { return }
        defer { guardFile.unlock() }
        if let current = RepositoryLock.current(root: root), current.pid == owner.pid, current.host == owner.host,
            current.time == owner.time
        {
            unlink(path)
        }
    }
}
