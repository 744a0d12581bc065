import Foundation
import VeloFormat

/// An encrypted repository's storage: another storage (a folder, a bucket) whose every object is sealed
/// (`SealedObject`) on its way in and authenticated on its way out, so that whoever holds the storage reads
/// nothing and changes nothing undetected. Only the repository's identity and its key files are stored as they
/// are: they are what opens the rest. Everything above it reads and writes plain bytes and sees plain sizes; a
/// damaged, cut or moved object is a `.damaged` error naming it.
///
/// What this machine keeps of the repository (the catalog cache, a pack's sweep marks, scratch files) is kept on
/// this machine, never beside the objects in a local repository: a folder handed to somebody else holds
/// nothing readable.
public final class EncryptedStorage: RepositoryStorage {
    /// The storage the sealed objects are in.
    public let inner: any RepositoryStorage
    public let keys: RepositoryKeys?
    public let cacheDirectory: String?
    public let scratchDirectory: String

    /// - Parameters:
    ///   - cacheDirectory: where this machine's caches of the repository go (outside a local repository).
    ///   - scratchDirectory: where one run's scratch files go (outside a local repository).
    public init(_ inner: any RepositoryStorage, keys: RepositoryKeys, cacheDirectory: String?, scratchDirectory: String) {
        self.inner = inner
        self.keys = keys
        self.cacheDirectory = cacheDirectory
        self.scratchDirectory = scratchDirectory
    }

    private var sealing: RepositoryKeys { keys! }

    public var location: String { inner.location }

    /// Whether objects of `kind` are sealed: all but the identity and the key files.
    public static func seals(_ kind: StoredKind) -> Bool { kind != .config && kind != .key }

    private func seal(_ name: StoredName, _ bytes: [UInt8]) throws -> [UInt8] {
        guard Self.seals(name.kind) else { return bytes }
        return try SealedObject.seal(bytes, keys: sealing, relativePath: name.relativePath)
    }

    private func open(_ name: StoredName, stored: [UInt8]) throws -> [UInt8] {
        guard Self.seals(name.kind) else { return stored }
        return try SealedObject.open(stored, keys: sealing, relativePath: name.relativePath, describe: describe(name))
    }

    private func plain(_ name: StoredName, _ info: StoredInfo) -> StoredInfo {
        guard Self.seals(name.kind) else { return info }
        // A size no sealed object has is shown as 0; reading the object says what is wrong with it.
        return StoredInfo(size: SealedObject.plaintextSize(info.size) ?? 0, modified: info.modified)
    }

    public func save(_ name: StoredName, _ bytes: [UInt8]) throws { try inner.save(name, try seal(name, bytes)) }

    public func saveIfAbsent(_ name: StoredName, _ bytes: [UInt8]) throws -> Bool {
        try inner.saveIfAbsent(name, try seal(name, bytes))
    }

    public func create(_ name: StoredName) throws -> any StoredObjectWriter {
        let writer = try inner.create(name)
        guard Self.seals(name.kind) else { return writer }
        do { return try SealedObjectWriter(writer, keys: sealing) } catch {
            writer.abort()
            throw error
        }
    }

    public func load(_ name: StoredName) throws -> [UInt8] { try open(name, stored: try inner.load(name)) }

    public func loadStored(_ name: StoredName) throws -> [UInt8] { try open(name, stored: try inner.loadStored(name)) }

    public func open(_ name: StoredName) throws -> any StoredObjectReader { try open(name, cached: true) }

    public func open(_ name: StoredName, cached: Bool) throws -> any StoredObjectReader {
        let reader = try inner.open(name, cached: cached)
        guard Self.seals(name.kind) else { return reader }
        return try SealedObjectReader(reader, keys: sealing, describe: describe(name))
    }

    public func stat(_ name: StoredName) throws -> StoredInfo? { try inner.stat(name).map { plain(name, $0) } }

    public func list(_ kind: StoredKind, _ body: (StoredName, StoredInfo) throws -> Void) throws {
        try inner.list(kind) { name, info in try body(name, plain(name, info)) }
    }

    public func remove(_ name: StoredName) throws { try inner.remove(name) }

    /// Compares plain bytes: the stored object is read, opened and compared, then removed only while it is still
    /// that stored object (the inner storage's compare-and-delete). An object that does not open is not removed.
    public func removeIfUnchanged(_ name: StoredName, expected: [UInt8]) throws -> Bool {
        guard Self.seals(name.kind) else { return try inner.removeIfUnchanged(name, expected: expected) }
        let stored: [UInt8]
        do { stored = try inner.loadStored(name) } catch StorageError.missing { return false }
        guard (try? open(name, stored: stored)) == expected else { return false }
        return try inner.removeIfUnchanged(name, expected: stored)
    }

    public func changeStamp(_ kind: StoredKind) -> String? { inner.changeStamp(kind) }

    public func removeScratch() { ScratchFolder.empty(scratchDirectory) }

    @discardableResult
    public func removeLeftovers(_ kind: StoredKind) throws -> Int { try inner.removeLeftovers(kind) }

    public var requests: StorageRequests? { inner.requests }
}
