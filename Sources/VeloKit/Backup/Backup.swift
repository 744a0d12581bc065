import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo backup`: a consistent snapshot of a live Veloquent database, written into the repository as a new
/// archive and catalogued. A crash at any point leaves either no trace or a complete snapshot.
public enum Backup {
    public struct Options: Sendable {
        public var tags: [String] = []
        public var collections: [String]?
        public var excludeTables: [String] = []
        public var includeFramework = false
        public var records = true
        /// zstd level.
        public var level: Int32 = 3
        /// Compression threads: 0 compresses on the reading thread, 1 on a thread of its own, 2 or more on that
        /// many zstd workers. Defaults to ``Backup/defaultWorkers``.
        public var workers: Int32 = Backup.defaultWorkers
        /// The snapshot's time (Unix seconds), default now.
        public var time: Int64?
        /// Rows are cut into parts of about this many bytes; nil: `ArchiveFormat.defaultPartBytes` for a full
        /// archive, `ArchiveFormat.incrementalPartBytes` for an incremental snapshot.
        public var partBytes: Int?
        public var busyTimeout: Duration = .seconds(5)
        /// Only these tables' rows (and the collection metadata): the snapshot taken before tables are dropped.
        public var onlyTables: [String]?
        /// `velo backup --app`: the tenant's storage disk (a folder or a bucket), whose `uploads/` go into the
        /// snapshot as `files/…`.
        package var uploads: (any UploadsDisk)?
        /// `velo backup --app`: the app and tenant, recorded in the header and the catalog.
        package var app: AppOrigin?
        /// An incremental snapshot (format version 2: rows and uploaded files stored once in the repository, see
        /// `SegmentFormat`), the default for every kind of backup; false writes a self-contained full archive
        /// (format version 1: `velo backup --full`, `full` in a config).
        public var incremental = true
        /// Incremental: segments waiting for their frame to be written, at most, before the reader waits for the
        /// oldest (bounds memory when few and scattered rows changed; lowered by tests to exercise the wait).
        package var pendingSegmentLimit = 1 << 14

        public init() {}

        func validate() throws {
            guard (1...19).contains(level) else { throw VeloError("the zstd level must be 1 to 19, not \(level)", kind: .usage) }
            guard workers >= 0 else { throw VeloError("the compression threads must be 0 or more, not \(workers)", kind: .usage) }
            if let partBytes, !(1...ArchiveFormat.maxPartTarget).contains(partBytes) {
                throw VeloError("the part size must be 1 byte to \(ArchiveFormat.maxPartTarget >> 20) MiB", kind: .usage)
            }
        }
    }

    /// The default compression threads: the machine's cores, at least 1 and at most 2. Compression at level 3
    /// costs about twice the reading and encoding of the rows, so with two cores one thread reading and two zstd
    /// workers keep both busy (where one compression thread left the backup waiting on it); more workers would
    /// add memory (about 8 MiB each) for little more speed, since reading then becomes the bottleneck.
    public static var defaultWorkers: Int32 {
        Int32(min(2, max(1, ProcessInfo.processInfo.activeProcessorCount)))
    }

    /// What `velo backup` reports.
    public struct Result: Encodable, Sendable {
        public var id: String
        public var time: String
        public var archive: String
        public var bytes: Int64
        public var sha256: String
        public var rows: [String: Int]
        public var excludedTables: [String]
        /// Tables kept although they are not Veloquent's (orphans, other applications' tables).
        public var notVeloquent: [String]
        public var seconds: Double
        /// Uploaded files kept (`--app`), their bytes, and what was not kept (links, special files, files
        /// deleted while the backup ran), each with its reason.
        public var files: Int? = nil
        public var fileBytes: Int64? = nil
        public var skippedFiles: [String]? = nil
        /// The requests the backup sent to a repository billed by request (object storage); nil for a folder.
        public var requests: StorageRequests? = nil
    }

    /// The idle read-only connection `checkSource` read the schema with, still open. A caller that reads the source
    /// next (a backup, an export) keeps it until that read has begun (`withExtendedLifetime`): in WAL mode the
    /// first connection to a database that no process has open rebuilds the WAL index by reading and checksumming
    /// the whole WAL (about 0.4 s per GiB of WAL on the benchmark machine), and a later connection reuses the index
    /// only while another one is still open. Dropped at once, the check costs that rebuild a second time. It holds
    /// no transaction: it never blocks writers nor checkpoints, and being read-only it never checkpoints on close.
    public struct CheckedSource: @unchecked Sendable {
        let database: Database
    }

    /// Checks that `path` is a Veloquent database before anything is written anywhere (a repository is created
    /// only for a backup that can happen). Opens the file read-only and reads its schema; the connection closes
    /// when the returned value is dropped (see `CheckedSource`).
    /// - Throws: `DatabaseFile.Problem` for a missing or non-SQLite file, `ModelError.notVeloquent`, `SQLiteError`.
    @discardableResult
    public static func checkSource(_ path: String, busyTimeout: Duration = .seconds(5)) throws -> CheckedSource {
        try DatabaseFile.check(path)
        if try FileSystem.fileSize(path) == 0 {
            throw VeloError("\(path): an empty file, not a Veloquent database")
        }
        let db = try Database(path: path, mode: .readOnly, busyTimeout: busyTimeout)
        _ = try TenantDatabase.load(db)
        return CheckedSource(database: db)
    }

    /// Backs up `databasePath` into `repository`. Takes the repository's lock for the whole run. A failure at any
    /// point leaves no partial archive and nothing catalogued.
    /// - Throws: `.locked` when another velo holds the repository, `.notVeloquent`, `.input` for a row past the
    ///   format's limits, `.io` naming the file, `.interrupted` after `Interruption.request`.
    public static func run(
        databasePath: String, repository: Repository, options: Options, progress: (any ProgressObserver)? = nil
    ) throws -> Result {
        try options.validate()
        let requestsBefore = repository.storage.requests
        var result = try {
            let lock = try repository.writerLock(command: "velo backup")
            defer { lock.release() }
            return try withSweep(repository, incremental: options.incremental) {
                try write(
                    databasePath: databasePath, repository: repository, options: options, progress: progress,
                    sequence: { try repository.catalog.nextSequence() })
            }
        }()
        if let requestsBefore, let after = repository.storage.requests { result.requests = after - requestsBefore }
        return result
    }

    /// Runs `body`, which stores incremental snapshots, with a sweep marker (`SweepMarker`, on
    /// `repository.sweepMarker`) that the first piece it stores writes: when `body` fails, what it stored is
    /// referenced by nothing and is swept at once (the marker stays if that fails, for the next writer); when it
    /// stored nothing (an unchanged backup), no request is made for the marker. The caller holds the lock.
    package static func withSweep<T>(_ repository: Repository, incremental: Bool, _ body: () throws -> T) throws -> T {
        guard incremental else { return try body() }
        let marker = SweepMarker(repository)
        repository.sweepMarker = marker
        defer { repository.sweepMarker = nil }
        do {
            let result = try body()
            marker.finishSucceeded()
            return result
        } catch {
            marker.finishFailed()
            throw error
        }
    }

    /// The backup itself, for a caller that holds the repository's lock (and, for an incremental snapshot, the
    /// sweep marker: `withSweep`): `sequence` hands out the catalog sequence number (several backups of one
    /// `--app` run share the lock and number their entries in turn). The one place that chooses the output:
    /// an incremental snapshot (format version 2) by default, a self-contained archive with `incremental` off.
    /// A snapshot of an app's source carries its app and tenant (and the tag `tenant:<name>` or `landlord`),
    /// however it is taken: without `options.app`, the origin the newest snapshot of the same database file
    /// recorded (a `--db` backup of a tenant's file, the safety snapshot of a restore into it).
    package static func write(
        databasePath: String, repository: Repository, options: Options, progress: (any ProgressObserver)?,
        sequence: () throws -> Int
    ) throws -> Result {
        try options.validate()
        var options = options
        if options.app == nil { options.app = knownOrigin(of: FileSystem.absolute(databasePath), in: repository) }
        if let tag = options.app?.tag, !options.tags.contains(tag) { options.tags.append(tag) }
        if options.incremental {
            return try writeIncremental(
                databasePath: databasePath, repository: repository, options: options, progress: progress, sequence: sequence)
        }
        return try writeFull(databasePath: databasePath, repository: repository, options: options, progress: progress, sequence: sequence)
    }

    /// A self-contained archive (format version 1).
    static func writeFull(
        databasePath: String, repository: Repository, options: Options, progress: (any ProgressObserver)?,
        sequence: () throws -> Int
    ) throws -> Result {
        let started = ContinuousClock.now
        Diagnostics.info("\(databasePath): taking a consistent snapshot into \(repository.root)")
        let source = try BackupSource(databasePath: databasePath, repository: repository, options: options, version: ArchiveFormat.version)
        defer { source.close() }
        let writer = try ArchiveWriter(output: try repository.createArchive(source.archive), level: options.level, workers: options.workers)
        let manifest: Manifest
        let written: (bytes: Int64, sha256: String)
        let vanished: [String]
        do {
            var snapshot = SnapshotWriter(
                database: source.read.database, plan: source.plan, header: source.header,
                partBytes: options.partBytes ?? ArchiveFormat.defaultPartBytes, progress: progress)
            snapshot.files = source.files
            snapshot.afterRows = source.releaseAfterRows
            manifest = try snapshot.write(to: writer)
            vanished = snapshot.vanishedFiles
            written = try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
        let entry = try commit(
            source.archive, in: repository, header: source.header, manifest: manifest, written: written,
            started: started, sequence: sequence)
        return source.result(entry, in: repository, vanished: vanished)
    }

    /// The app and tenant the newest snapshot of `sourcePath` recorded, if it recorded one.
    static func knownOrigin(of sourcePath: String, in repository: Repository) -> AppOrigin? {
        (try? repository.catalog.newestFirst(of: sourcePath))?.first { _ in true }?.app
    }
}
