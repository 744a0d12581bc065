import Foundation
import VeloFormat

// The storage layer: where a repository's objects live, behind one interface (restic's `backend`, Litestream's
// `ReplicaClient`). Everything above it names objects by kind and name (`StoredName`) and never builds a path;
// each place a repository can be (a local folder today, an object store next) is one implementation of
// `RepositoryStorage` that passes the conformance suite every implementation must pass
// (Tests/VeloKitTests/Storage/StorageConformance.swift). The promises, in the order writers rely on them:
//
// - An object appears whole or not at all: `save`, a committed `StoredObjectWriter`. Nothing half-written is
//   ever listed, loaded or stat'ed under its name.
// - `saveIfAbsent` creates an object only when no object of that name exists, atomically: of two writers
//   exactly one succeeds (locks, content-named pieces).
// - What a writer killed mid-write left is invisible and removed by `removeLeftovers` once its writer is gone.
// - `load`, `open` and `list` see every object committed before they were called.

/// Where a repository's objects are stored.
public protocol RepositoryStorage: AnyObject, Sendable {
    /// Where the storage is, for messages (a folder, a bucket URL).
    var location: String { get }

    /// Stores `bytes` under `name`, replacing any object of that name; durable when it returns.
    func save(_ name: StoredName, _ bytes: [UInt8]) throws

    /// Stores `bytes` under `name` only when no such object exists; true when this call created it.
    func saveIfAbsent(_ name: StoredName, _ bytes: [UInt8]) throws -> Bool

    /// A writer for a large object, streamed: it appears under `name` only on `commit()`.
    func create(_ name: StoredName) throws -> any StoredObjectWriter

    /// The whole object (for small objects: catalog entries, lists, markers).
    /// - Throws: `StorageError.missing` when there is none.
    func load(_ name: StoredName) throws -> [UInt8]

    /// The whole object as the storage holds it now, never a copy cached on this machine: what `velo verify`
    /// reads, since a proof that the repository is sound cannot come from this machine's cache.
    /// - Throws: `StorageError.missing` when there is none.
    func loadStored(_ name: StoredName) throws -> [UInt8]

    /// A reader of ranges of the object (packs, archives).
    /// - Throws: `StorageError.missing` when there is none.
    func open(_ name: StoredName) throws -> any StoredObjectReader

    /// `open`, from this machine's cache of the storage when `cached` and the storage keeps one for the object
    /// (a bucket's small archives: `ObjectCache`); `velo verify` passes false to read the storage itself.
    func open(_ name: StoredName, cached: Bool) throws -> any StoredObjectReader

    /// The object's size and modification time, or nil when there is none.
    func stat(_ name: StoredName) throws -> StoredInfo?

    /// Every object of `kind`, in no particular order.
    func list(_ kind: StoredKind, _ body: (StoredName, StoredInfo) throws -> Void) throws

    /// Removes the object; removing an object that is not there is not an error.
    func remove(_ name: StoredName) throws

    /// Removes the object only while it still holds exactly `expected` (compare-and-delete), atomically with
    /// respect to every other `removeIfUnchanged` and `saveIfAbsent` of the same name: of two writers taking
    /// over the same stale lock, only one removes it. True when this call removed it.
    func removeIfUnchanged(_ name: StoredName, expected: [UInt8]) throws -> Bool

    /// A token that changes whenever an object of `kind` is added, replaced or removed, read without listing
    /// (a folder's modification time); nil when the storage cannot tell so cheaply. Caches of the catalog are
    /// trusted only while it is the one they recorded, and not kept at all without one.
    func changeStamp(_ kind: StoredKind) -> String?

    /// A folder on this machine for caches of the repository (deletable at any time), nil for none.
    var cacheDirectory: String? { get }

    /// A folder on this machine for one run's scratch files (diff buckets, exports of snapshots); what a run
    /// left there is removed by the next writer (`removeScratch`).
    var scratchDirectory: String { get }

    /// Removes everything in `scratchDirectory` (called under the repository lock).
    func removeScratch()

    /// Removes what writers that are gone left of objects of `kind` (temporary files, unfinished uploads);
    /// returns how many. Never touches what a live writer is writing.
    @discardableResult
    func removeLeftovers(_ kind: StoredKind) throws -> Int

    /// The requests sent so far, by kind, for a storage that is billed by request (nil for a local folder).
    var requests: StorageRequests? { get }

    /// The keys of an encrypted repository's storage (`EncryptedStorage`), nil for a storage whose objects are
    /// stored as they are.
    var keys: RepositoryKeys? { get }
}

extension RepositoryStorage {
    public var keys: RepositoryKeys? { nil }

    /// The name content-addressed objects (segment lists) get for `bytes`: their SHA-256, or in an encrypted
    /// repository their HMAC-SHA256 under its address key, so the name tells nothing about the content.
    public func contentAddress(_ bytes: [UInt8]) -> String { keys?.contentAddress(bytes) ?? SHA256Digest.of(bytes) }

    /// A storage without a cache of objects loads what it holds.
    public func loadStored(_ name: StoredName) throws -> [UInt8] { try load(name) }

    public func open(_ name: StoredName, cached: Bool) throws -> any StoredObjectReader { try open(name) }

    /// Where `name` is, for messages: the location and the object's path in it.
    public func describe(_ name: StoredName) -> String {
        location.hasSuffix("/") ? location + name.relativePath : location + "/" + name.relativePath
    }
}

/// A stored object's size and modification time.
public struct StoredInfo: Sendable, Equatable {
    public var size: Int64
    /// Seconds since the Unix epoch.
    public var modified: Int64

    public init(size: Int64, modified: Int64) {
        self.size = size
        self.modified = modified
    }
}

/// Writes one object, streamed. Until `commit` nothing is visible under its name; `abort` (or dropping the
/// writer uncommitted) leaves nothing behind.
public protocol StoredObjectWriter: ObjectWriter {
    var name: StoredName { get }
}

/// Writes one object, streamed (a repository's, or another object of a bucket: `S3Disk`).
public protocol ObjectWriter: AnyObject {
    /// Bytes written so far.
    var bytesWritten: Int64 { get }
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the object durable and visible under its name.
    func commit() throws
    /// Drops what was written.
    func abort()
}

/// Reads ranges of one object.
public protocol StoredObjectReader: AnyObject {
    var name: StoredName { get }
    /// The object's size when it was opened.
    var size: Int64 { get }
    /// Reads exactly `count` bytes at `offset` into `destination`.
    /// - Throws: `StorageError.shortRead` when the object ends first.
    func read(at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) throws
}

extension StoredObjectReader {
    /// `count` bytes at `offset`.
    public func read(at offset: Int64, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { try read(at: offset, count: count, into: UnsafeMutableRawPointer(buffer.baseAddress!)) }
            initialized = count
        }
    }
}

extension ObjectWriter {
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
}

/// A storage operation that failed, naming the object and where it is.
public enum StorageError: VeloFailure, Equatable {
    /// No object of that name.
    case missing(StoredName, location: String)
    /// The object ended before the bytes asked for: it is shorter than what refers to it.
    case shortRead(StoredName, location: String, offset: Int64, wanted: Int, size: Int64)
    /// The name is not one its kind can hold.
    case invalidName(StoredName)

    public var kind: ErrorKind {
        switch self {
        case .missing: return .input
        case .shortRead: return .damaged
        case .invalidName: return .input
        }
    }

    public var description: String {
        switch self {
        case .missing(let name, let location): return "\(location): \(name.relativePath) is missing"
        case .shortRead(let name, let location, let offset, let wanted, let size):
            return "\(location): \(name.relativePath) is \(size) bytes, too short for \(wanted) bytes at byte \(offset)"
        case .invalidName(let name): return "'\(name.name)' is not a valid name for a stored \(name.kind.rawValue)"
        }
    }
}
