import Foundation

/// A folder of snapshots:
///
///     velo-repository.json                       format name, version, id
///     snapshots/YYYY/MM/<time>-<id>.tar.zst      archives (mode 0600)
///     catalog/<id>.json, <id>.manifest.json      what each archive holds
///     locks/exclusive.json                       the writer's lock
///     tmp/                                       scratch files (diff buckets, transfer exports of snapshots)
///
/// Archives are written under a hidden `.partial` name, fsynced, renamed, then catalogued.
public final class Repository {
    public static let markerFile = "velo-repository.json"
    public static let formatName = "velo-repository"

    /// The absolute path of the repository folder.
    public let root: String
    public let catalog: Catalog
    /// Where the repository's objects are stored (`RepositoryStorage`): the pieces of incremental snapshots go
    /// through it; archives, the catalog and locks are still read and written in the folder directly.
    public let storage: any RepositoryStorage
    /// How long a writer waits for another velo's lock before failing (`--retry-lock`): overlapping cron jobs
    /// wait instead of failing. Zero fails at once.
    public var lockWait: Duration = .zero

    private init(root: String) {
        self.root = root
        catalog = Catalog(directory: (root as NSString).appendingPathComponent("catalog"))
        storage = LocalStorage(root: root)
    }

    /// Opens the repository at `path`. With `create`, a missing or empty folder becomes a new repository.
    /// - Throws: `VeloError` (`.input`) when `path` is not a repository (or a non-empty folder with `create`),
    ///   `.damaged` for an unreadable marker, `.io` when the folder cannot be made.
    public static func open(_ path: String, create: Bool = false) throws -> Repository {
        let root = FileSystem.absolute(path)
        let marker = (root as NSString).appendingPathComponent(markerFile)
        if FileSystem.exists(marker) {
            let json: JSONValue
            do { json = try JSONParser.parse(try FileSystem.read(marker)) } catch {
                throw VeloError("\(marker): not a valid repository marker (\(error))")
            }
            guard json["format"]?.stringValue == formatName else { throw VeloError("\(marker): not a velo repository marker") }
            guard let version = json["version"]?.intValue, version == 1 else {
                throw VeloError(
                    "\(root): repository format version \(json["version"].map { JSONWriter.string($0) } ?? "?") is newer than this velo reads"
                )
            }
            // A creation killed after the marker left some folders unmade: make them now.
            for sub in layoutFolders where !FileSystem.isDirectory((root as NSString).appendingPathComponent(sub)) {
                try FileSystem.createDirectory((root as NSString).appendingPathComponent(sub), durable: true)
            }
            return Repository(root: root)
        }
        if FileSystem.exists(root) && !FileSystem.isDirectory(root) { throw VeloError("\(root): is a file, not a repository folder") }
        guard create else {
            throw VeloError("\(root): not a velo repository (no \(markerFile))", remedy: .createRepository(path: path))
        }
        if FileSystem.isDirectory(root), let contents = try? FileManager.default.contentsOfDirectory(atPath: root),
            !contents.filter({ !$0.hasPrefix(".") }).isEmpty
        {
            throw VeloError("\(root): folder is not empty and not a velo repository; choose an empty or new folder")
        }
        // The marker first, then the folders: a creation killed at any point is either nothing (an empty folder,
        // or one holding only a hidden temporary file) or a repository whose missing folders the next open makes.
        try FileSystem.createDirectory(root, durable: true)
        var random = SystemRandomNumberGenerator()
        let marker1 = JSONValue.object([
            ("format", .string(formatName)), ("version", .int(1)),
            ("id", .string(SnapshotID.random(using: &random))), ("created", .string(Timestamp.iso8601(Timestamp.now))),
        ])
        try FileSystem.writeAtomically(Array(JSONWriter.string(marker1, pretty: true).utf8), to: marker)
        for sub in layoutFolders {
            try FileSystem.createDirectory((root as NSString).appendingPathComponent(sub), durable: true)
        }
        return Repository(root: root)
    }

    /// The folders of a repository, made when it is created (and by the next open, if a creation was killed).
    static let layoutFolders = ["snapshots", "catalog", "locks", "tmp"]

    /// Whether `path` holds a repository.
    public static func exists(at path: String) -> Bool {
        FileSystem.exists((FileSystem.absolute(path) as NSString).appendingPathComponent(markerFile))
    }

    /// The absolute path of `relative` inside the repository (catalog entries name archives relative to the root).
    public func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    /// Where a snapshot's archive goes, relative to the root.
    func archivePath(id: String, time: Int64) -> String {
        let stamp = Timestamp.format(time)  // 2026-11-27 10:11:15
        let year = stamp.prefix(4), month = stamp.dropFirst(5).prefix(2)
        let compact = stamp.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "").replacingOccurrences(
            of: " ", with: "T")
        return "snapshots/\(year)/\(month)/\(compact)Z-\(id)\(ArchiveFormat.fileExtension)"
    }

    /// The snapshot id in an archive's name (`…/20261127T101115Z-<id>.tar.zst`), nil for another name.
    static func snapshotID(archive relative: String) -> String? {
        let name = (relative as NSString).lastPathComponent
        guard name.hasSuffix(ArchiveFormat.fileExtension), let dash = name.lastIndex(of: "-") else { return nil }
        let id = String(name[name.index(after: dash)...].dropLast(ArchiveFormat.fileExtension.count))
        return SnapshotID.isValid(id) ? id : nil
    }

    /// The hidden name an archive is written under until it is complete.
    func partialPath(for relative: String) -> String {
        let full = path(relative)
        return ((full as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent(".\((full as NSString).lastPathComponent).partial")
    }

    /// Folder for temporary database copies.
    var temporaryDirectory: String { path("tmp") }

    /// Takes the writer's lock and cleans up what an interrupted writer left: partial archives and temporary
    /// copies are deleted; a complete archive that was renamed but not yet catalogued is catalogued.
    /// With `wait` (default: `lockWait`), a lock held by another live writer is retried until the time is up.
    /// - Throws: `RepositoryLock.Failure` (`.locked`) when another velo holds it; `.interrupted` while waiting.
    public func lock(command: String, wait: Duration? = nil) throws -> RepositoryLock {
        let deadline = ContinuousClock.now + (wait ?? lockWait)
        while true {
            do {
                let lock = try RepositoryLock.acquire(root: root, command: command)
                try recover()
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
    func writerLock(command: String) throws -> RepositoryLock {
        let lock = try self.lock(command: command)
        if let stale = lock.replacedStaleOwner {
            Diagnostics.warn("\(root): took over the stale lock of \(stale.summary), whose process is gone")
        }
        return lock
    }

    /// The owner of the lock, when the repository is locked.
    public var lockOwner: RepositoryLock.Owner? { RepositoryLock.current(root: root) }

    /// Breaks the lock. Refuses a lock whose owner is alive unless `force`.
    /// - Returns: the owner of the lock that was removed, nil when the repository was not locked.
    /// - Throws: `VeloError` when the owner is alive (or on another host) and `force` is false.
    public func unlock(force: Bool) throws -> RepositoryLock.Owner? {
        let path = self.path("locks/exclusive.json")
        guard FileSystem.exists(path) else { return nil }
        let owner = lockOwner
        if let owner, !owner.isGone, !force {
            throw VeloError(
                "\(root): the lock belongs to \(owner.summary), which is still running (or on another host)",
                remedy: .forceUnlock(repository: root))
        }
        unlink(path)
        return owner
    }

    /// Removes a snapshot: a marker in `trash/` first, then its catalog entry, then its archive, then the
    /// marker. `recover` completes a removal that was interrupted.
    func remove(_ entry: CatalogEntry) throws {
        let trash = path("trash")
        try FileSystem.createDirectory(trash, durable: true)
        let marker = (trash as NSString).appendingPathComponent("\(entry.id).json")
        let json = JSONValue.object([("id", .string(entry.id)), ("archive", .string(entry.archive))])
        try FileSystem.writeAtomically(Array(JSONWriter.string(json).utf8), to: marker)
        catalog.remove(entry.id)
        unlink(path(entry.archive))
        FileSystem.syncDirectory((path(entry.archive) as NSString).deletingLastPathComponent)
        unlink(marker)
    }

    /// Finishes removals that a killed prune left half done; returns the archives that were being removed.
    func completeRemovals() -> Set<String> {
        let trash = path("trash")
        var archives = Set<String>()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? [] where name.hasSuffix(".json") {
            let marker = (trash as NSString).appendingPathComponent(name)
            guard let json = try? JSONParser.parse(try FileSystem.read(marker)), let id = json["id"]?.stringValue,
                let archive = json["archive"]?.stringValue
            else { continue }
            catalog.remove(id)
            unlink(path(archive))
            archives.insert(archive)
            unlink(marker)
        }
        return archives
    }

    func recover() throws {
        let fm = FileManager.default
        _ = completeRemovals()
        for name in (try? fm.contentsOfDirectory(atPath: temporaryDirectory)) ?? [] {
            try? fm.removeItem(atPath: (temporaryDirectory as NSString).appendingPathComponent(name))
        }
        // Files a killed velo was writing aside (`.x.json.tmp-<pid>`, `exclusive.json.new-<pid>`): only a live
        // process can still rename them into place, so those of a process that is gone are litter.
        for folder in ["", "catalog", "trash", "locks"] {
            let directory = path(folder)
            for name in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] where TemporaryFile.isLitter(name) {
                unlink((directory as NSString).appendingPathComponent(name))
                Diagnostics.info("\((directory as NSString).appendingPathComponent(name)): removed, left by a velo that is gone")
            }
        }
        // Which archives are catalogued: from the file names alone when the catalog cache is current (this runs
        // on every lock, so it must not read a large catalog in full), from every entry otherwise.
        let isCatalogued: (String) -> Bool
        let damagedIDs: Set<String>
        if let state = catalog.index.currentState() {
            let names = (try? fm.contentsOfDirectory(atPath: catalog.directory)) ?? []
            let ids = Set(
                names.filter { $0.hasSuffix(".json") && !$0.hasSuffix(".manifest.json") && !$0.hasPrefix(".") }.map {
                    String($0.dropLast(5))
                })
            damagedIDs = Set(state.damaged.map(\.id))
            isCatalogued = { relative in
                guard let id = Self.snapshotID(archive: relative) else { return false }
                return ids.contains(id) && !damagedIDs.contains(id)
            }
        } else {
            let (entries, damaged) = catalog.scan()
            let catalogued = Set(entries.map(\.archive))
            damagedIDs = Set(damaged.map(\.id))
            isCatalogued = { catalogued.contains($0) }
        }
        let snapshots = path("snapshots")
        guard let walker = fm.enumerator(atPath: snapshots) else { return }
        var orphans: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasSuffix(".partial") {
                unlink((snapshots as NSString).appendingPathComponent(relative))
            } else if name.hasSuffix(ArchiveFormat.fileExtension) && !isCatalogued("snapshots/" + relative) {
                orphans.append("snapshots/" + relative)
            }
        }
        for relative in orphans {
            // Renamed into place only after fsync, so it is complete; catalogue it if it reads back sound. This also
            // rebuilds a damaged catalog entry from its archive.
            if let audit = try? ArchiveAudit.run(path: path(relative)), audit.problems.isEmpty, let header = audit.header,
                let manifest = audit.manifest
            {
                let entry = CatalogEntry(
                    snapshot: header, manifest: manifest, archive: relative, bytes: audit.archiveBytes,
                    sha256: audit.archiveSHA256, seconds: 0, sequence: try catalog.nextSequence())
                try catalog.write(entry, header: header, manifest: manifest)
                if damagedIDs.contains(header.id) {
                    Diagnostics.warn(
                        "\(catalog.entryPath(header.id)): the damaged catalog entry was rebuilt from its archive, which verified sound")
                }
            }
        }
        // Last, once every complete archive is catalogued: pieces a killed backup or prune left unreferenced.
        PieceSweep.recover(self)
    }
}

extension CatalogEntry {
    /// The catalog entry for a freshly written (or recovered) archive.
    init(snapshot header: SnapshotHeader, manifest: Manifest, archive: String, bytes: Int64, sha256: String, seconds: Double, sequence: Int)
    {
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
