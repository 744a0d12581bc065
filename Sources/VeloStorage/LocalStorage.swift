import Foundation
import Synchronization
import VeloFormat

/// A repository in a local folder: each object a file at its `relativePath`. Objects are written aside
/// (`.<file>.<n>.tmp-<pid>`, the writer's pid last so that `TemporaryFile` knows when its writer is gone), fsynced,
/// then renamed (or, for `saveIfAbsent`, hard-linked) into place, and the folder fsynced, so a crash leaves the old
/// object, the new one or a temporary, never a torn file. Folders are made when the first object goes into them
/// and, when a write fails before its object exists, removed again if it left them empty (a full disk leaves no
/// trail of empty folders).
public final class LocalStorage: RepositoryStorage {
    public let root: String
    public var location: String { root }
    /// Makes temporary names unique among the threads of this process.
    private static let counter = Atomic<Int>(0)

    public init(root: String) {
        self.root = root
    }

    /// The file that holds `name` (for tests that damage a repository on purpose, and for messages).
    package func path(_ name: StoredName) throws -> String {
        guard name.isValid else { throw StorageError.invalidName(name) }
        return (root as NSString).appendingPathComponent(name.relativePath)
    }

    /// A temporary file beside `path`, unique to this writer.
    static func temporary(beside path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        let file = (path as NSString).lastPathComponent
        let n = counter.add(1, ordering: .relaxed).newValue
        return (folder as NSString).appendingPathComponent(".\(file).\(n).tmp-\(getpid())")
    }

    /// Creates the folders above `path` that are missing (each fsynced into its parent); returns them, deepest
    /// first, for `removeIfEmpty` after a failed write.
    static func makeFolders(for path: String, below root: String) throws -> [String] {
        var missing: [String] = []
        var folder = (path as NSString).deletingLastPathComponent
        while folder.count > root.count && !FileSystem.isDirectory(folder) {
            missing.append(folder)
            folder = (folder as NSString).deletingLastPathComponent
        }
        if !missing.isEmpty { try FileSystem.createDirectory((path as NSString).deletingLastPathComponent, durable: true) }
        return missing
    }

    /// Removes the folders a failed write made, when nothing else went into them meanwhile.
    static func removeIfEmpty(_ folders: [String]) {
        for folder in folders where rmdir(folder) == 0 {
            FileSystem.syncDirectory((folder as NSString).deletingLastPathComponent)
        }
    }

    public func save(_ name: StoredName, _ bytes: [UInt8]) throws {
        let writer = try create(name)
        do {
            try writer.write(bytes)
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    public func saveIfAbsent(_ name: StoredName, _ bytes: [UInt8]) throws -> Bool {
        let final = try path(name)
        if FileSystem.exists(final) { return false }
        let writer = try LocalObjectWriter(name: name, path: final, root: root)
        do {
            try writer.write(bytes)
            return try writer.commit(replacing: false)
        } catch {
            writer.abort()
            throw error
        }
    }

    public func create(_ name: StoredName) throws -> any StoredObjectWriter {
        try LocalObjectWriter(name: name, path: try path(name), root: root)
    }

    public func load(_ name: StoredName) throws -> [UInt8] {
        let file = try path(name)
        do { return try FileSystem.read(file) } catch let error as VeloError where error.errno == ENOENT {
            throw StorageError.missing(name, location: root)
        }
    }

    public func open(_ name: StoredName) throws -> any StoredObjectReader {
        try LocalObjectReader(name: name, path: try path(name), location: root)
    }

    public func stat(_ name: StoredName) throws -> StoredInfo? {
        let file = try path(name)
        var info = Foundation.stat()
        guard lstat(file, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw VeloError.io(file, "stat", errno: errno)
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        return StoredInfo(size: Int64(info.st_size), modified: FileSystem.modifiedNanoseconds(info) / 1_000_000_000)
    }

    public func list(_ kind: StoredKind, _ body: (StoredName, StoredInfo) throws -> Void) throws {
        try walk(kind) { relative, full in
            guard let name = StoredName.parse(relative, as: kind) else { return }
            var info = Foundation.stat()
            guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return }  // removed meanwhile
            try body(name, StoredInfo(size: Int64(info.st_size), modified: FileSystem.modifiedNanoseconds(info) / 1_000_000_000))
        }
    }

    public func remove(_ name: StoredName) throws {
        let file = try path(name)
        guard unlink(file) == 0 || errno == ENOENT else { throw VeloError.io(file, "unlink", errno: errno) }
    }

    public func removeIfUnchanged(_ name: StoredName, expected: [UInt8]) throws -> Bool {
        let file = try path(name)
        let guardFile = try FolderGuard(folder: (file as NSString).deletingLastPathComponent)
        defer { guardFile.unlock() }
        guard let current = try? FileSystem.read(file), current == expected else { return false }
        guard unlink(file) == 0 else {
            if errno == ENOENT { return false }
            throw VeloError.io(file, "unlink", errno: errno)
        }
        FileSystem.syncDirectory((file as NSString).deletingLastPathComponent)
        return true
    }

    /// A folder is not billed by request.
    public var requests: StorageRequests? { nil }

    public func changeStamp(_ kind: StoredKind) -> String? {
        // Every change renames a file into the kind's folder or unlinks one from it, which sets its mtime.
        guard kind != .snapshot, kind != .pack, kind != .list else { return nil }  // nested folders: no one stamp
        var info = Foundation.stat()
        let folder = kind.folder.isEmpty ? root : (root as NSString).appendingPathComponent(kind.folder)
        guard lstat(folder, &info) == 0 else { return nil }
        return "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    /// Makes the folders a repository shows from its first day (snapshots, catalog, locks, scratch); a
    /// creation killed after `velo-repository.json` had left some unmade. Objects make their own folders.
    public func makeLayout() throws {
        for folder in [StoredKind.snapshot.folder, StoredKind.catalog.folder, StoredKind.lock.folder, "tmp"]
        where !FileSystem.isDirectory((root as NSString).appendingPathComponent(folder)) {
            try FileSystem.createDirectory((root as NSString).appendingPathComponent(folder), durable: true)
        }
    }

    public var cacheDirectory: String? { (root as NSString).appendingPathComponent("cache") }

    public var scratchDirectory: String { (root as NSString).appendingPathComponent("tmp") }

    public func removeScratch() { ScratchFolder.empty(scratchDirectory) }

    public func removeLeftovers(_ kind: StoredKind) throws -> Int {
        var removed = 0
        try walk(kind) { relative, full in
            let file = (relative as NSString).lastPathComponent
            // `.partial` archives are what velo before the storage layer wrote aside; only the lock holder runs this.
            let litter = TemporaryFile.isLitter(file) || (kind == .snapshot && file.hasPrefix(".") && file.hasSuffix(".partial"))
            guard litter, unlink(full) == 0 else { return }
            removed += 1
            Diagnostics.info("\(full): removed, left by a velo that is gone")
        }
        // Sub-folders of pieces that a failed or killed writer left empty (`data/packs/<hh>/`).
        if kind == .pack || kind == .list {
            let folder = (root as NSString).appendingPathComponent(kind.folder)
            for sub in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where sub.count == 2 {
                let path = (folder as NSString).appendingPathComponent(sub)
                if (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true, rmdir(path) == 0 { removed += 1 }
            }
        }
        return removed
    }

    /// Calls `body` with the relative and full path of every file under `kind`'s folder (only the root's own
    /// files for `config`, only `data/`'s own files for `marker`), hidden ones included.
    private func walk(_ kind: StoredKind, _ body: (String, String) throws -> Void) throws {
        let folder = kind.folder.isEmpty ? root : (root as NSString).appendingPathComponent(kind.folder)
        let shallow = kind == .config || kind == .marker
        if shallow {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                let full = (folder as NSString).appendingPathComponent(file)
                guard !FileSystem.isDirectory(full) else { continue }
                try body(kind.folder.isEmpty ? file : kind.folder + "/" + file, full)
            }
            return
        }
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return }
        while let relative = walker.nextObject() as? String {
            let full = (folder as NSString).appendingPathComponent(relative)
            if FileSystem.isDirectory(full) { continue }
            try body(kind.folder + "/" + relative, full)
        }
    }
}

/// A short exclusive `flock` on a folder's `guard` file that serialises compare-and-delete with the
/// creators of the same folder's objects, between processes (`locks/guard` for the locks).
struct FolderGuard {
    let fd: Int32

    init(folder: String) throws {
        try FileSystem.createDirectory(folder)
        let path = (folder as NSString).appendingPathComponent("guard")
        fd = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VeloError.io(path, "open", errno: errno) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
    }

    func unlock() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

/// A local object being written: a temporary file renamed into place on `commit`.
final class LocalObjectWriter: StoredObjectWriter {
    let name: StoredName
    private let path: String
    private let temporary: String
    private var fd: Int32
    private var madeFolders: [String]
    private(set) var bytesWritten: Int64 = 0
    private var done = false

    init(name: StoredName, path: String, root: String) throws {
        self.name = name
        self.path = path
        madeFolders = try LocalStorage.makeFolders(for: path, below: root)
        temporary = LocalStorage.temporary(beside: path)
        fd = Foundation.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            LocalStorage.removeIfEmpty(madeFolders)
            throw VeloError.io(temporary, "create", errno: code)
        }
        fchmod(fd, 0o600)  // whatever the umask
    }

    deinit { abort() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try FileSystem.writeAll(fd, bytes, path: path)
        bytesWritten += Int64(bytes.count)
    }

    func commit() throws { _ = try commit(replacing: true) }

    /// Makes the file durable and puts it in place: renamed over any old one, or (without `replacing`)
    /// hard-linked only when no file of that name exists; false then.
    func commit(replacing: Bool) throws -> Bool {
        precondition(!done, "LocalObjectWriter: committed twice")
        guard fsync(fd) == 0 else {
            let code = errno
            abort()
            throw VeloError.io(path, "fsync", errno: code)
        }
        close(fd)
        fd = -1
        var created = true
        if replacing {
            guard Foundation.rename(temporary, path) == 0 else {
                let code = errno
                abort()
                throw VeloError.io(path, "rename", errno: code)
            }
        } else {
            if link(temporary, path) != 0 {
                let code = errno
                guard code == EEXIST else {
                    abort()
                    throw VeloError.io(path, "link", errno: code)
                }
                created = false
            }
            unlink(temporary)
        }
        done = true
        FileSystem.syncDirectory((path as NSString).deletingLastPathComponent)
        return created
    }

    func abort() {
        guard !done else { return }
        done = true
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(temporary)
        LocalStorage.removeIfEmpty(madeFolders)
    }
}

/// Ranges of a local object, read with `pread` from one open descriptor.
final class LocalObjectReader: StoredObjectReader {
    let name: StoredName
    let size: Int64
    private let fd: Int32
    private let location: String

    init(name: StoredName, path: String, location: String) throws {
        self.name = name
        self.location = location
        fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw StorageError.missing(name, location: location) }
            throw VeloError.io(path, "open", errno: errno)
        }
        var info = Foundation.stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw VeloError.io(path, "fstat", errno: code)
        }
        size = Int64(info.st_size)
    }

    deinit { close(fd) }

    func read(at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) throws {
        var done = 0
        while done < count {
            let n = pread(fd, destination + done, count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw VeloError.io((location as NSString).appendingPathComponent(name.relativePath), "read", errno: errno)
            }
            if n == 0 { throw StorageError.shortRead(name, location: location, offset: offset, wanted: count, size: size) }
            done += n
        }
    }
}
