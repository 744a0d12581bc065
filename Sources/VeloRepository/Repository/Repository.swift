import Foundation
import VeloFormat
import VeloStorage

/// A repository of snapshots, in a `RepositoryStorage` (a local folder today):
///
///     velo-repository.json                       format name, version, id
///     snapshots/YYYY/MM/<time>-<id>.tar.zst      archives (mode 0600)
///     catalog/<id>.json, <id>.manifest.json      what each archive holds
///     locks/exclusive.json, locks/round.json     the writers' and the rounds' locks
///     trash/<id>.json                            removals in progress
///     data/packs/, data/lists/                   pieces of incremental snapshots
///
/// Everything goes through the storage by typed names (`StoredName`); nothing here builds a path. An archive
/// is written aside and appears under its name only when complete, then it is catalogued.
public final class Repository {
    public static let formatName = "velo-repository"

    /// Where the repository is, for messages (the absolute path of a local repository's folder).
    public let root: String
    public let catalog: Catalog
    /// Where the repository's objects are stored.
    public let storage: any RepositoryStorage
    /// How long a writer waits for another velo's lock before failing (`--retry-lock`): overlapping cron jobs
    /// wait instead of failing. Zero fails at once.
    public var lockWait: Duration = .zero
    /// When a lock of another host is stale, and how often a held lock's heartbeat is written (`LockTiming`).
    public var lockTiming = (try? LockTiming.fromEnvironment()) ?? LockTiming()
    /// The sweep marker of the writer's run in progress (`Backup.withSweep`), which the pieces it stores set.
    package var sweepMarker: SweepMarker?
    /// The key file the password opened, for an encrypted repository.
    public internal(set) var keyFile: KeyFile?

    private init(storage: any RepositoryStorage) {
        self.storage = storage
        root = storage.location
        catalog = Catalog(storage: storage)
    }

    /// Opens the repository in the folder at `path`, or in the bucket an `s3:` location names (`S3Storage`). With
    /// `create`, a missing or empty folder (or bucket) becomes a new repository, encrypted when `access` says so.
    /// An encrypted repository is opened with the password `access` gives (`RepositoryEncryption`).
    /// - Throws: `VeloError` (`.input`) when `path` is not a repository (or a non-empty folder with `create`),
    ///   `.damaged` for an unreadable marker or key file, `.wrongPassword`, `.io` when the folder cannot be made.
    public static func open(_ path: String, create: Bool = false, access: RepositoryAccess = RepositoryAccess()) throws -> Repository {
        if S3Location.isS3(path) {
            // A bucket (`s3:https://HOST/BUCKET/PREFIX`, `s3://BUCKET/PREFIX`): the same repository, in objects.
            let storage = try S3Storage(path)
            let existed = (try? storage.load(.config)) != nil
            if create && !existed { try storage.createBucketIfMissing() }
            let repository = try open(storage: storage, create: create, named: path, access: access)
            // `velo init` again after a killed one: its unfinished upload of the identity is litter.
            if create && !existed { _ = try? storage.removeLeftovers(.config) }
            return repository
        }
        let root = FileSystem.absolute(path)
        if FileSystem.exists(root) && !FileSystem.isDirectory(root) { throw VeloError("\(root): is a file, not a repository folder") }
        let storage = LocalStorage(root: root)
        if try storage.stat(.config) == nil && create {
            // `keys/` alone is what a killed `init --encrypt` left before its identity: the folder is still empty.
            if FileSystem.isDirectory(root), let contents = try? FileManager.default.contentsOfDirectory(atPath: root),
                !contents.filter({ !$0.hasPrefix(".") && $0 != "keys" }).isEmpty
            {
                throw VeloError("\(root): folder is not empty and not a velo repository; choose an empty or new folder")
            }
            try FileSystem.createDirectory(root, durable: true)
        }
        let repository = try open(storage: storage, create: create, named: path, access: access)
        try storage.makeLayout()
        // `velo init` again after a killed one: its identity's temporary is litter (writers clean it under the lock).
        if create { _ = try? storage.removeLeftovers(.config) }
        return repository
    }

    /// Opens the repository in `storage`; with `create`, storage without a repository becomes one (its
    /// identity is written only if absent, so two creators agree on one).
    /// - Parameter named: how the user named it, for the advice to create one.
    public static func open(
        storage: any RepositoryStorage, create: Bool = false, named: String? = nil, access: RepositoryAccess = RepositoryAccess()
    ) throws -> Repository {
        try open(storage: storage, create: create, named: named, access: access, created: nil)
    }

    /// `open`, knowing the keys of a repository this process has just created (asked for once, not again).
    private static func open(
        storage: any RepositoryStorage, create: Bool, named: String?, access: RepositoryAccess, created: (RepositoryKeys, KeyFile)?
    ) throws -> Repository {
        let marker = storage.describe(.config)
        let bytes: [UInt8]
        do { bytes = try storage.load(.config) } catch StorageError.missing {
            guard create else {
                throw VeloError(
                    "\(storage.location): not a velo repository (no \(StoredName.config.relativePath))",
                    remedy: .createRepository(path: named ?? storage.location))
            }
            var random = SystemRandomNumberGenerator()
            let id = SnapshotID.random(using: &random)
            var fields: [(String, JSONValue)] = [
                ("format", .string(formatName)), ("version", .int(1)), ("id", .string(id)),
                ("created", .string(Timestamp.iso8601(Timestamp.now))),
            ]
            var made: (RepositoryKeys, KeyFile)?
            if access.encrypt {
                guard let source = access.password else {
                    throw VeloError(
                        "\(storage.location): a new encrypted repository needs a password and none was given",
                        remedy: .givePassword(repository: storage.location))
                }
                let keys = RepositoryKeys.generate()
                // The key file first: an identity never names a master key no key file holds.
                let file = try RepositoryEncryption.addKeyFile(
                    keys, password: try source.readNew("New password for \(storage.location): "), repositoryID: id,
                    parameters: access.scrypt, in: storage)
                fields[1].1 = .int(RepositoryEncryption.identityVersion)
                fields.append(("encryption", RepositoryEncryption.identityBlock(keys)))
                made = (keys, file)
            }
            let created = try storage.saveIfAbsent(.config, Array(JSONWriter.string(.object(fields), pretty: true).utf8))
            if !created, let made { try? storage.remove(.key(made.1.id)) }  // another creator won: its identity stands
            return try open(storage: storage, create: false, named: named, access: access, created: created ? made : nil)
        }
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch {
            throw VeloError("\(marker): not a valid repository marker (\(error))")
        }
        guard json["format"]?.stringValue == formatName else { throw VeloError("\(marker): not a velo repository marker") }
        guard let version = json["version"]?.intValue, version == 1 || version == RepositoryEncryption.identityVersion else {
            throw VeloError(
                "\(storage.location): repository format version \(json["version"].map { JSONWriter.string($0) } ?? "?") is newer than this velo reads"
            )
        }
        guard version == RepositoryEncryption.identityVersion else {
            if create && access.encrypt {
                throw VeloError(
                    "\(storage.location): the repository exists and is not encrypted; velo never converts one: create an encrypted repository elsewhere and copy the snapshots into it"
                )
            }
            return Repository(storage: storage)
        }
        guard let id = json["id"]?.stringValue else { throw VeloError("\(marker): the repository marker has no id", kind: .damaged) }
        let fingerprint = try RepositoryEncryption.fingerprint(of: json, describe: marker)
        let (keys, file) =
            try created
            ?? RepositoryEncryption.unlock(storage, repositoryID: id, fingerprint: fingerprint, password: access.password)
        let repository = Repository(storage: RepositoryEncryption.seal(storage, keys: keys, repositoryID: id))
        repository.keyFile = file
        return repository
    }

    /// Whether the folder at `path` holds a repository.
    public static func exists(at path: String) -> Bool {
        if S3Location.isS3(path) { return (try? S3Storage(path).stat(.config)) != nil }
        return (try? LocalStorage(root: FileSystem.absolute(path)).stat(.config)) != nil
    }

    /// The repository's id (from `velo-repository.json`), nil when it cannot be read.
    package var id: String? {
        (try? storage.load(.config)).flatMap { try? JSONParser.parse($0) }?["id"]?.stringValue
    }

    /// A folder on this machine for scratch files (diff buckets, transfer exports of snapshots).
    package var temporaryDirectory: String { storage.scratchDirectory }

    /// Takes the writer's lock and cleans up what an interrupted writer left: partial archives and temporary
    /// copies are deleted; a complete archive that was renamed but not yet catalogued is catalogued.
    /// With `wait` (default: `lockWait`), a lock held by another live writer is retried until the time is up.
    /// - Throws: `RepositoryLock.Failure` (`.locked`) when another velo holds it; `.interrupted` while waiting.
    public func lock(command: String, wait: Duration? = nil) throws -> RepositoryLock {
        let deadline = ContinuousClock.now + (wait ?? lockWait)
        while true {
            do {
                let lock = try RepositoryLock.acquire(storage: storage, command: command, timing: lockTiming)
                try recover(tookOver: lock.replacedStaleOwner != nil)
                return lock
            } catch RepositoryLock.Failure.held(let repository, let owner) {
                guard ContinuousClock.now < deadline else { throw RepositoryLock.Failure.held(repository: repository, owner: owner) }
                try Interruption.check()
                usleep(200_000)
            }
        }
    }

    /// `lock(command:)` for a writer that reports, as a warning, a stale lock it took over from a process that
    /// is gone.
    package func writerLock(command: String) throws -> RepositoryLock {
        let lock = try self.lock(command: command)
        if let stale = lock.replacedStaleOwner, let reason = lock.replacedStaleReason {
            Diagnostics.warn("\(root): took over the stale lock of \(stale.summary), \(reason)")
        }
        return lock
    }

    /// The owner of the lock, when the repository is locked.
    public var lockOwner: RepositoryLock.Owner? { RepositoryLock.current(storage: storage) }

    /// Breaks the writers' lock (or, with `name: .roundLock`, the rounds' lock). Refuses a lock whose owner is
    /// alive unless `force`.
    /// - Returns: the owner of the lock that was removed, nil when there was no such lock.
    /// - Throws: `VeloError` when the owner is alive (or on another host) and `force` is false.
    public func unlock(_ name: StoredName = .exclusiveLock, force: Bool) throws -> RepositoryLock.Owner? {
        guard try storage.stat(name) != nil else { return nil }
        let owner = RepositoryLock.current(storage: storage, name: name)
        if let owner, !force, try RepositoryLock.staleness(of: owner, name: name, in: storage, timing: lockTiming) == nil {
            let alive =
                owner.host == FileSystem.hostName
                ? "which is still running" : "whose heartbeat is less than \(Interval(seconds: lockTiming.staleSeconds)) old"
            throw VeloError("\(root): the lock belongs to \(owner.summary), \(alive)", remedy: .forceUnlock(repository: root))
        }
        if let nonce = owner?.nonce { try? storage.remove(LockHeartbeat.name(of: name, nonce: nonce)) }
        // The writer that held it did not finish: the next one recovers in full and sweeps (`recover`).
        if name == .exclusiveLock { _ = try? storage.saveIfAbsent(.sweepMarker, []) }
        try storage.remove(name)
        return owner
    }

    /// Removes a snapshot: a marker in `trash/` first, then its catalog entry, then its archive, then the
    /// marker. `recover` completes a removal that was interrupted.
    package func remove(_ entry: CatalogEntry) throws {
        let marker = StoredName.trash(entry.id)
        let json = JSONValue.object([("id", .string(entry.id)), ("archive", .string(entry.archive))])
        try storage.save(marker, Array(JSONWriter.string(json).utf8))
        catalog.remove(entry.id)
        if let name = StoredName.parse(entry.archive, as: .snapshot) {
            try storage.remove(name)
            ArchiveMarks.forget(name, in: storage)
        }
        try storage.remove(marker)
    }

    /// Finishes removals that a killed prune left half done; returns the archives that were being removed.
    func completeRemovals() -> Set<String> {
        var markers: [StoredName] = []
        try? storage.list(.trash) { name, _ in markers.append(name) }
        var archives = Set<String>()
        for marker in markers {
            guard let json = try? JSONParser.parse(try storage.load(marker)), let id = json["id"]?.stringValue,
                let archive = json["archive"]?.stringValue
            else { continue }
            catalog.remove(id)
            if let name = StoredName.parse(archive, as: .snapshot) {
                try? storage.remove(name)
                ArchiveMarks.forget(name, in: storage)
            }
            archives.insert(archive)
            try? storage.remove(marker)
        }
        return archives
    }

    /// How often a writer of a storage billed by request recovers in full when nothing said it must.
    static let thoroughRecoveryInterval: TimeInterval = 86_400

    /// What every writer runs once it holds the lock: finishes what an interrupted writer left (removals in
    /// `trash/`, archives not yet catalogued, leftovers, unreferenced pieces). On a storage billed by request
    /// (a bucket) the listings this takes, which grow with the repository, run only when something says a
    /// writer did not finish: the lock was taken over (`tookOver`), the sweep marker is there (a failed backup
    /// or prune leaves it, and `velo unlock` sets it), the catalog has a damaged entry, or the last full
    /// recovery on this machine is a day old. Otherwise the catalog's listing (which the writer needs anyway)
    /// and one HEAD of the marker are all it costs.
    func recover(tookOver: Bool = true) throws {
        let marker: Bool? = try? storage.stat(.sweepMarker) != nil
        var thorough = storage.requests == nil || tookOver || marker != false || thoroughRecoveryDue
        if !thorough {
            let damaged = try catalog.scan().damaged
            thorough = !damaged.isEmpty
        }
        if thorough {
            try recoverThoroughly()
            recordThoroughRecovery()
        }
        // Last, once every complete archive is catalogued: pieces a killed backup or prune left unreferenced.
        PieceSweep.recover(self, markerPresent: marker, thorough: thorough)
    }

    /// The stamp of the last full recovery of this machine (`cache/recovered` beside the storage's caches).
    private var recoveryStamp: String? { storage.cacheDirectory.map { ($0 as NSString).appendingPathComponent("recovered") } }

    private var thoroughRecoveryDue: Bool {
        guard let stamp = recoveryStamp, let attributes = try? FileManager.default.attributesOfItem(atPath: stamp),
            let modified = attributes[.modificationDate] as? Date
        else { return true }
        return Date().timeIntervalSince(modified) > Self.thoroughRecoveryInterval
    }

    private func recordThoroughRecovery() {
        guard storage.requests != nil, let stamp = recoveryStamp, let directory = storage.cacheDirectory else { return }
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try? Data().write(to: URL(fileURLWithPath: stamp))
    }

    /// Removes what killed writers left beside the locks: a heartbeat whose lock is gone (its writer died
    /// between the two removals) once it is stale, and a conditional-write probe (`S3Storage`) an hour old.
    private func removeLockLitter() {
        var objects: [(StoredName, StoredInfo)] = []
        try? storage.list(.lock) { name, info in objects.append((name, info)) }
        let live = Set(
            [StoredName.exclusiveLock, .roundLock].compactMap { lock in
                RepositoryLock.current(storage: storage, name: lock)?.nonce.map { LockHeartbeat.name(of: lock, nonce: $0) }
            })
        let now = Timestamp.now
        for (name, info) in objects {
            let age = now - info.modified
            let litter =
                name.name.hasPrefix("probe-")
                ? age > 3600 : name.name.hasSuffix(".heartbeat.json") && !live.contains(name) && age > lockTiming.staleSeconds
            if litter { try? storage.remove(name) }
        }
    }

    private func recoverThoroughly() throws {
        _ = completeRemovals()
        storage.removeScratch()
        // What a killed velo was writing aside (archives, catalog entries, markers, lock files): only a live
        // process can still put them in place, so those of a process that is gone are litter.
        for kind in [StoredKind.config, .key, .catalog, .trash, .lock, .snapshot] { _ = try? storage.removeLeftovers(kind) }
        removeLockLitter()
        // Which archives are catalogued: from the names alone when the catalog cache is current (this runs on
        // every lock, so it must not read a large catalog in full), from every entry otherwise.
        let isCatalogued: (StoredName) -> Bool
        let damagedIDs: Set<String>
        if let state = catalog.index.currentState() {
            let ids: Set<String>
            do { ids = try catalog.ids() } catch {
                // Never taken for an empty catalog: every archive would look uncatalogued.
                throw VeloError("\(storage.location): the catalog cannot be listed: \(error)", kind: .io)
            }
            damagedIDs = Set(state.damaged.map(\.id))
            isCatalogued = { name in
                guard let id = name.snapshotID else { return false }
                return ids.contains(id) && !damagedIDs.contains(id)
            }
        } else {
            let (entries, damaged) = try catalog.scan()
            let catalogued = Set(entries.map(\.archive))
            damagedIDs = Set(damaged.map(\.id))
            isCatalogued = { catalogued.contains($0.relativePath) }
        }
        var orphans: [StoredName] = []
        try? storage.list(.snapshot) { name, _ in if !isCatalogued(name) { orphans.append(name) } }
        for name in orphans.sorted(by: { $0.name < $1.name }) {
            // Committed only when complete, so it is whole; catalogue it if it reads back sound. This also
            // rebuilds a damaged catalog entry from its archive.
            if let audit = try? ArchiveAudit.run(path: storage.describe(name), open: { try self.archiveReader(name, cached: false) }),
                audit.problems.isEmpty, let header = audit.header, let manifest = audit.manifest
            {
                let entry = CatalogEntry(
                    snapshot: header, manifest: manifest, archive: name.relativePath, bytes: audit.archiveBytes,
                    sha256: audit.archiveSHA256, seconds: 0, sequence: try catalog.nextSequence())
                try catalog.write(entry, header: header, manifest: manifest)
                if damagedIDs.contains(header.id) {
                    Diagnostics.warn(
                        "\(catalog.entryLocation(header.id)): the damaged catalog entry was rebuilt from its archive, which verified sound")
                }
            }
        }
    }
}

extension CatalogEntry {
    /// The catalog entry for a freshly written (or recovered) archive.
    package init(
        snapshot header: SnapshotHeader, manifest: Manifest, archive: String, bytes: Int64, sha256: String, seconds: Double, sequence: Int
    ) {
        var rows: [String: Int] = [:]
        for table in manifest.tables { rows[table.name] = table.rows }
        let collections = Set(manifest.tables.compactMap(\.collection)).sorted()
        self.init(
            id: header.id, time: header.time, sequence: sequence, archive: archive, archiveBytes: bytes, archiveSHA256: sha256,
            sourcePath: header.source.path, sourceKind: header.source.kind, schemaVersion: header.source.schemaVersion,
            tags: header.tags, collections: collections, tableRows: rows, records: header.contents.records, seconds: seconds)
        app = header.source.app
        let files = manifest.files
        if !files.isEmpty {
            self.files = files.count
            fileBytes = files.reduce(0) { $0 + $1.bytes }
        }
    }
}
