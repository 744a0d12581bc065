import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A restore from continuous capture: the source database exactly as it was after the last commit velo saw at
/// or before a moment, written as a new file. The chain's base is decompressed aside, the captured frames up to
/// that commit are written over it in order (the last write of a page wins, as SQLite's own checkpoint does),
/// the file is cut to the database's size after that commit, and `integrity_check` must pass before the file is
/// linked into place. Never into an existing database: replacing a live file under Veloquent is the operator's
/// step, with the app stopped (Litestream's restore refuses an existing file too).
public enum PointInTimeRestore {
    public struct Result: Sendable, Codable {
        public var source: String
        public var target: String
        /// The moment asked for, ISO 8601 with milliseconds.
        public var at: String
        /// When velo saw the last commit applied (nil: the base alone, no commit after it).
        public var lastCommitSeen: String?
        public var commitsApplied: Int
        public var framesApplied: Int
        /// Objects read: the base and the batches.
        public var objectsRead: Int
        public var bytes: Int64
        public var seconds: Double
    }

    /// Restores `source` as of `time` (ms since the epoch) into `target`, a file that must not exist.
    /// - Throws: `PointInTimeError` for a moment outside the captured window (naming the nearest restorable
    ///   ones), `.input` when `target` exists or nothing of `source` was captured, `.damaged` when an object or
    ///   the result is not sound (nothing is left at `target` then).
    public static func run(
        source: String, at time: Int64, into target: String, repository: Repository, progress: ProgressObserver? = nil
    ) throws -> Result {
        let started = ContinuousClock.now
        let source = FileSystem.absolute(source)
        guard let history = try ContinuousHistory.load(source: source, storage: repository.storage) else {
            throw VeloError("\(repository.root): holds no continuous capture of \(source)")
        }
        return try run(history: history, at: time, into: target, repository: repository, progress: progress, started: started)
    }

    /// Restores the source of `history` as of `time` (ms) into `target`, as `run(source:…)` does.
    public static func run(
        history: ContinuousHistory, at time: Int64, into target: String, repository: Repository, progress: ProgressObserver? = nil,
        started: ContinuousClock.Instant = .now
    ) throws -> Result {
        let plan = try history.plan(at: time)
        return try write(plan, into: target, storage: repository.storage, started: started, progress: progress)
    }

    /// Writes what `plan` names into `target`.
    static func write(
        _ plan: ContinuousRestorePlan, into target: String, storage: any RepositoryStorage, started: ContinuousClock.Instant,
        progress: ProgressObserver?
    ) throws -> Result {
        guard !FileSystem.exists(target) else {
            throw VeloError("\(target) exists: a point-in-time restore writes a new database file", remedy: .restoreIntoNewFile)
        }
        TemporaryFile.removeLitter(beside: target)
        let temporary = target + ".velo-restore-\(getpid())"
        func discard() { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) } }
        discard()
        let base = plan.chain.base
        var frames = 0
        do {
            let fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw VeloError.io(temporary, "open", errno: errno) }
            defer { close(fd) }
            try writeBase(base, to: fd, path: temporary, storage: storage)
            for image in plan.images {
                let reader = try CaptureObjectReader(image.pack, storage: storage, bodies: image.bodies, range: image.image.range)
                frames += try write(records: image.image.count, pageSize: image.image.pageSize, from: reader, to: fd, path: temporary)
                progress?.update(frames, unit: "pages")
            }
            for part in plan.segments {
                let segment = part.segment
                let reader = try ContinuousHistory.reader(of: segment, storage: storage)
                try reader.read(segment.frames.offset) { _ in }
                let count = max(0, min(segment.frames.count, part.through - segment.frames.first + 1))
                frames += try write(records: count, pageSize: segment.frames.pageSize, from: reader, to: fd, path: temporary)
                progress?.update(frames, unit: "pages")
            }
            guard ftruncate(fd, off_t(plan.bytes)) == 0, fsync(fd) == 0 else { throw VeloError.io(temporary, "truncate", errno: errno) }
            try check(temporary, reportedAs: target, time: plan.time)
            let again = open(temporary, O_RDONLY | O_CLOEXEC)
            if again >= 0 { fsync(again); close(again) }
        } catch {
            discard()
            throw error
        }
        progress?.finish()
        guard link(temporary, target) == 0 else {
            let reason = errno == EEXIST ? "it appeared while restoring; nothing was replaced" : String(cString: strerror(errno))
            discard()
            throw VeloError("\(target): \(reason)")
        }
        discard()
        FileSystem.syncDirectory((target as NSString).deletingLastPathComponent)
        let commits = plan.segments.reduce(0) { n, s in n + s.segment.frames.commits.filter { $0.frame <= s.through }.count }
        return Result(
            source: plan.source, target: target, at: PointInTimeError.format(plan.time),
            lastCommitSeen: plan.lastCommit.map { PointInTimeError.format($0.seen) }, commitsApplied: commits, framesApplied: frames,
            objectsRead: plan.objectCount, bytes: try FileSystem.fileSize(target), seconds: (ContinuousClock.now - started).inSeconds)
    }

    /// Decompresses the base into `fd`, checking its size and SHA-256.
    private static func writeBase(_ base: CaptureBase, to fd: Int32, path: String, storage: any RepositoryStorage) throws {
        let name = StoredName(.capture, base.object)
        let reader = try CaptureObjectReader(name, storage: storage)
        var hash = SHA256Digest()
        try reader.read(base.bytes) { part in
            hash.update(part)
            try FileSystem.writeAll(fd, part, path: path)
        }
        guard try reader.atEnd() else {
            throw VeloError("\(storage.describe(name)): holds more than the \(base.bytes) bytes its batch says", kind: .damaged)
        }
        guard hash.hex() == base.sha256 else {
            throw VeloError("\(storage.describe(name)): checksum mismatch (the base copy is damaged)", kind: .damaged)
        }
    }

    /// Writes `count` records (a 4-byte big-endian page number and the page: a frame, or an image's page) read
    /// from `reader` over the file, each at its page's place; returns how many.
    private static func write(records count: Int, pageSize: Int, from reader: CaptureObjectReader, to fd: Int32, path: String) throws -> Int
    {
        var page = [UInt8](repeating: 0, count: 4 + pageSize)
        for _ in 0..<count {
            let number = try reader.record(into: &page)
            guard number > 0 else { throw VeloError("\(reader.place): a record names page 0", kind: .damaged) }
            let offset = off_t(number - 1) * off_t(pageSize)
            let written = page.withUnsafeBytes { pwrite(fd, $0.baseAddress! + 4, pageSize, offset) }
            guard written == pageSize else { throw VeloError.io(path, "write", errno: errno) }
        }
        return count
    }

    /// Opens the result with SQLite: `integrity_check` must say ok.
    private static func check(_ path: String, reportedAs target: String, time: Int64) throws {
        let db = try Database(path: path, mode: .readWrite, reportedAs: target)
        let problems = try db.rows("PRAGMA integrity_check").compactMap { $0.first?.stringValue }
        guard problems == ["ok"] else {
            throw VeloError(
                "\(target): the database restored as of \(PointInTimeError.format(time)) fails integrity_check (\(problems.first ?? "no answer")); nothing was written",
                kind: .damaged)
        }
    }
}
