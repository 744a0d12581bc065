import Crypto
import Foundation
import NIOHTTP1
import VeloFormat

/// A repository in an S3 bucket (any S3-compatible server): each stored object is one S3 object under the
/// location's prefix, at the same relative path as in a local repository, so a folder synced to a bucket is a
/// repository and back. The storage promises hold as S3 gives them:
/// - an object appears whole or not at all: a PUT, or a multipart upload completed on `commit` (parts of
///   8 MiB, two sent while the next is filled), aborted on `abort` or failure;
/// - `saveIfAbsent` is a PUT with `If-None-Match: *` (412: another writer's), and `removeIfUnchanged` a read,
///   a comparison and a DELETE with `If-Match: <ETag>`, so of two writers exactly one wins (on a server that
///   ignores the header, a lock is written only where none is and read back: `ConditionalWrites.swift`);
/// - reads are ranged GETs of 1 MiB windows, the last ones shared by all readers (`ReadWindows`), the next two
///   fetched meanwhile for a reader that reads in order; never a whole large object in memory;
/// - there is no cheap change stamp, so no catalog cache is trusted;
/// - leftovers are multipart uploads a killed writer never completed, aborted after `leftoverAge`.
public final class S3Storage: RepositoryStorage, @unchecked Sendable {
    let client: S3Client
    public let location: String
    /// Multipart uploads started longer ago than this are a killed writer's (no live writer takes this long
    /// over one object).
    let leftoverAge: TimeInterval
    /// `$XDG_CACHE_HOME`, else `~/.cache`, of the environment the storage was opened with.
    let cacheBase: String
    static let partSize = 8 << 20

    /// Opens the bucket location `text` (`s3:…`) with the credentials of the environment; each request is tried
    /// `attempts` times, each attempt given `timeoutSeconds`; unfinished multipart uploads older than
    /// `leftoverAge` seconds are removed as a killed writer's.
    public init(
        _ text: String, environment: [String: String] = ProcessInfo.processInfo.environment, attempts: Int = 5, timeoutSeconds: Int64 = 120,
        leftoverAge: TimeInterval = 6 * 3600
    ) throws {
        self.leftoverAge = leftoverAge
        cacheBase =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".cache")
        let location = try S3Location(text, environment: environment)
        client = S3Client(
            location: location, credentials: try S3Credentials.resolve(environment: environment), attempts: attempts,
            timeout: .seconds(timeoutSeconds))
        self.location = location.description
    }

    var s3: S3Location { client.location }

    /// What this process knows of objects' ETags, to save requests (see `ObjectCache`): the ETag of each object
    /// it wrote, with the SHA-256 of what it wrote (a lock is released with one conditional DELETE, no read
    /// first), and the ETags the latest listing gave (a catalog entry whose ETag is unchanged is read from the
    /// cache).
    private let known = Known()
    private final class Known: @unchecked Sendable {
        let lock = NSLock()
        var written: [StoredName: (sha256: String, etag: String)] = [:]
        var listed: [StoredName: String] = [:]
        /// Multipart uploads in progress, listed once per process (`removeLeftovers`).
        var uploads: [(key: String, id: String, started: Int64)]?
        /// Whether this process holds the repository's exclusive lock: then no other writer changes the
        /// repository, so a listing of a kind stays true once this process's own writes are applied to it.
        var exclusive = false
        var listings: [StoredKind: [StoredName: StoredInfo]] = [:]
        /// The repository's identity, which never changes once written.
        var config: [UInt8]?
        /// Pieces this process read from the bucket while holding the exclusive lock: they exist until this
        /// process removes them (a HEAD right after a GET says nothing new). Nothing else is answered from what
        /// was read: another process may remove a catalog entry between a reader's GET and its HEAD.
        var seen: [StoredName: StoredInfo] = [:]
    }

    /// Records what this process wrote (the ETag the server gave, the listing kept under the exclusive lock).
    func remember(_ name: StoredName, wrote bytes: [UInt8], size: Int64? = nil, etag: String?) {
        known.lock.withLock {
            known.listed[name] = nil
            if let etag { known.written[name] = (SHA256Digest.of(bytes), etag) } else { known.written[name] = nil }
            if name == .exclusiveLock { known.exclusive = true }
            known.listings[name.kind]?[name] = StoredInfo(size: size ?? Int64(bytes.count), modified: Int64(Date().timeIntervalSince1970))
        }
        if ObjectCache.keeps(name.kind), name.kind != .catalog || etag != nil, size == nil {
            objectCache?.write(name, etag: etag, bytes)
        }
    }

    private func forget(_ name: StoredName) {
        windows.forget(name)
        known.lock.withLock {
            known.listed[name] = nil
            known.written[name] = nil
            known.seen[name] = nil
            known.listings[name.kind]?[name] = nil
            if name == .exclusiveLock {
                known.exclusive = false
                known.listings = [:]
                known.seen = [:]
            }
        }
    }

    /// What this process read of large objects lately, shared by all their readers.
    let windows = ReadWindows()

    /// The local cache of small objects that are immutable or named by their ETag.
    var objectCache: ObjectCache? { cacheDirectory.map(ObjectCache.init) }

    func key(_ name: StoredName) throws -> String {
        guard name.isValid else { throw StorageError.invalidName(name) }
        return s3.key(name.relativePath)
    }

    /// Creates the bucket if it does not exist (`velo init`); an existing one of this account is fine.
    public func createBucketIfMissing() throws {
        _ = try client.send(.PUT, key: nil, accept: [200, 409])
    }

    public func save(_ name: StoredName, _ bytes: [UInt8]) throws {
        let key = try key(name)
        forget(name)
        let response = try client.send(.PUT, key: key, body: bytes)
        remember(name, wrote: bytes, etag: response.header("ETag"))
    }

    public func saveIfAbsent(_ name: StoredName, _ bytes: [UInt8]) throws -> Bool {
        let key = try key(name)
        if name.kind == .lock || name.kind == .config || name.kind == .marker, try !conditionalWritesHonoured() {
            return try saveIfAbsentByReadBack(name, key: key, bytes)
        }
        let response = try client.send(.PUT, key: key, headers: [("If-None-Match", "*")], body: bytes, accept: [200, 412, 409])
        if response.status == 200 {
            remember(name, wrote: bytes, etag: response.header("ETag"))
            return true
        }
        // The answer to an earlier attempt was lost: the object refusing this one may be that attempt's. It is
        // this call's creation when it holds exactly these bytes (a lock's carry a nonce, a piece's are its name).
        if response.afterUncertainAttempt {
            let existing = try client.send(.GET, key: key, accept: [200, 404])
            if existing.status == 200, existing.body == bytes {
                remember(name, wrote: bytes, etag: existing.header("ETag"))
                return true
            }
        }
        return false
    }

    public func create(_ name: StoredName) throws -> any StoredObjectWriter {
        S3StoredObjectWriter(client: client, name: name, key: try key(name), label: describe(name)) { [self] size, whole in
            remember(name, wrote: [], size: size, etag: nil)
            if let whole, ObjectCache.keepsArchive(name, size: size) { objectCache?.write(name, etag: nil, whole) }
        }
    }

    public func load(_ name: StoredName) throws -> [UInt8] {
        if name == .config, let config = known.lock.withLock({ known.config }) { return config }
        let cache = ObjectCache.keeps(name.kind) ? objectCache : nil
        let listedETag = known.lock.withLock { known.listed[name] }
        if let cache, let bytes = cache.read(name, etag: listedETag) { return bytes }
        return try loadStored(name)
    }

    /// One GET, whatever the cache holds (which it then refreshes).
    public func loadStored(_ name: StoredName) throws -> [UInt8] {
        let key = try key(name)
        let cache = ObjectCache.keeps(name.kind) ? objectCache : nil
        let response = try client.send(.GET, key: key, accept: [200, 404])
        guard response.status == 200 else { throw StorageError.missing(name, location: location) }
        if let cache { cache.write(name, etag: response.header("ETag"), response.body) }
        known.lock.withLock {
            if name == .config { known.config = response.body }
            if known.exclusive, name.kind == .list || name.kind == .pack {
                known.seen[name] = StoredInfo(size: Int64(response.body.count), modified: Self.httpDate(response.header("Last-Modified")))
            }
        }
        return response.body
    }

    /// A small archive (an incremental snapshot's: header, schema, segments.json, manifest) from this machine's
    /// cache when it is there (no request: the next backup reads the previous snapshot's this way), else from
    /// the bucket, then kept in the cache. Archives are written once under unique names, so a copy that still
    /// matches its checksum is the archive.
    public func open(_ name: StoredName, cached: Bool) throws -> any StoredObjectReader {
        guard cached, name.kind == .snapshot, let cache = objectCache else { return try open(name) }
        if let bytes = cache.read(name, etag: nil) { return CachedObjectReader(name: name, bytes: bytes, location: location) }
        let reader = try open(name)
        if let reader = reader as? S3ObjectReader, ObjectCache.keepsArchive(name, size: reader.size) {
            var bytes = [UInt8](repeating: 0, count: Int(reader.size))
            if bytes.withUnsafeMutableBytes({ windows.copy(name, at: 0, count: $0.count, into: $0.baseAddress!) }) {
                cache.write(name, etag: nil, bytes)
            }
        }
        return reader
    }

    /// One ranged GET of the object's first window, whose `Content-Range` gives the size: no HEAD first; none at
    /// all for an object this process read lately (its size is known, its windows are kept: `ReadWindows`).
    public func open(_ name: StoredName) throws -> any StoredObjectReader {
        let key = try key(name)
        if let size = windows.size(of: name) { return S3ObjectReader(storage: self, name: name, key: key, size: size) }
        let response = try client.send(
            .GET, key: key, headers: [("Range", "bytes=0-\(S3ObjectReader.readAhead - 1)")], accept: [200, 206, 404, 416])
        switch response.status {
        case 404: throw StorageError.missing(name, location: location)
        case 416: return S3ObjectReader(storage: self, name: name, key: key, size: 0)  // an empty object
        case 206:
            guard let total = response.header("Content-Range")?.split(separator: "/").last.flatMap({ Int64($0) }),
                Int64(response.body.count) == min(total, Int64(S3ObjectReader.readAhead))
            else {
                throw VeloError("\(describe(name)): the server's answer to a ranged read has no usable Content-Range", kind: .io)
            }
            windows.keep(name, start: 0, bytes: response.body, size: total)
            return S3ObjectReader(storage: self, name: name, key: key, size: total)
        default:
            // A server that ignored Range: usable only for an object no larger than the window asked for.
            guard response.body.count <= S3ObjectReader.readAhead else {
                throw VeloError(
                    "\(describe(name)): the server answered a ranged read with the whole object (\(response.body.count) bytes); it must honour Range",
                    kind: .io)
            }
            windows.keep(name, start: 0, bytes: response.body, size: Int64(response.body.count))
            return S3ObjectReader(storage: self, name: name, key: key, size: Int64(response.body.count))
        }
    }

    public func stat(_ name: StoredName) throws -> StoredInfo? {
        if let kept = known.lock.withLock({ known.exclusive ? known.listings[name.kind] : nil }) { return kept[name] }
        if let seen = known.lock.withLock({ known.exclusive ? known.seen[name] : nil }) { return seen }
        let response = try client.send(.HEAD, key: try key(name), accept: [200, 404])
        guard response.status == 200 else { return nil }
        let size = response.header("Content-Length").flatMap(Int64.init) ?? 0
        return StoredInfo(size: size, modified: Self.httpDate(response.header("Last-Modified")))
    }

    public func list(_ kind: StoredKind, _ body: (StoredName, StoredInfo) throws -> Void) throws {
        if let kept = known.lock.withLock({ known.exclusive ? known.listings[kind] : nil }) {
            for (name, info) in kept { try body(name, info) }
            return
        }
        var listing: [StoredName: StoredInfo] = [:]
        let folder = kind.folder.isEmpty ? "" : kind.folder + "/"
        let prefix = s3.key(folder)
        try client.listObjects(prefix: prefix, shallow: kind == .config || kind == .marker) { object in
            let relative = folder + object.key.dropFirst(prefix.count)
            guard let name = StoredName.parse(relative, as: kind) else { return }
            if let etag = object.etag { known.lock.withLock { known.listed[name] = etag } }
            let info = StoredInfo(size: object.size ?? 0, modified: object.lastModified.map(Self.isoDate) ?? 0)
            listing[name] = info
            try body(name, info)
        }
        known.lock.withLock { if known.exclusive { known.listings[kind] = listing } }
    }

    public func remove(_ name: StoredName) throws {
        let key = try key(name)
        forget(name)
        _ = try client.send(.DELETE, key: key, accept: [200, 204, 404])
        if ObjectCache.keeps(name.kind) || name.kind == .snapshot { objectCache?.remove(name) }
    }

    public func removeIfUnchanged(_ name: StoredName, expected: [UInt8]) throws -> Bool {
        let key = try key(name)
        if name == .exclusiveLock {
            // Releasing (or taking over) the lock: from now on nothing kept under it is trusted, even if the
            // DELETE below fails on the network.
            known.lock.withLock {
                known.exclusive = false
                known.listings = [:]
                known.seen = [:]
            }
        }
        // What this process wrote there last, with its ETag: one conditional DELETE (412 when it changed since).
        var etag = known.lock.withLock { known.written[name] }.flatMap { $0.sha256 == SHA256Digest.of(expected) ? $0.etag : nil }
        if etag == nil {
            let response = try client.send(.GET, key: key, accept: [200, 404])
            guard response.status == 200, response.body == expected, let current = response.header("ETag") else { return false }
            etag = current
        }
        let deleted = try client.send(.DELETE, key: key, headers: [("If-Match", etag!)], accept: [200, 204, 404, 412])
        if deleted.status == 412 {
            // Changed meanwhile by another process: what this one kept of it is no longer true.
            known.lock.withLock {
                known.written[name] = nil
                known.listings[name.kind] = nil
            }
            return false
        }
        forget(name)
        return deleted.status != 404
    }

    public func changeStamp(_ kind: StoredKind) -> String? { nil }

    public var requests: StorageRequests? { client.counter.current }

    /// `~/.cache/velo/<bucket>-<hash of the location>`: caches of this repository, deletable at any time.
    public var cacheDirectory: String? {
        return (cacheBase as NSString).appendingPathComponent("velo/\(s3.bucket)-\(locationHash)")
    }

    public var scratchDirectory: String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent("velo-\(s3.bucket)-\(locationHash)")
    }

    var locationHash: String { String(SHA256.hash(data: Data(location.utf8)).map { String(format: "%02x", $0) }.joined().prefix(16)) }

    public func removeScratch() { ScratchFolder.empty(scratchDirectory) }

    /// Aborts the multipart uploads of `kind` that a writer started more than `leftoverAge` ago and never
    /// completed (a killed one: a live writer aborts its own on failure).
    /// The uploads in progress are listed once per process (one request for every kind; a writer's own
    /// uploads are younger than `leftoverAge` anyway).
    @discardableResult
    public func removeLeftovers(_ kind: StoredKind) throws -> Int {
        let uploads = try known.lock.withLock { () throws -> [(key: String, id: String, started: Int64)] in
            if let uploads = known.uploads { return uploads }
            var found: [(key: String, id: String, started: Int64)] = []
            try client.listUploads(prefix: s3.key("")) { found.append(($0.key, $0.id, Self.isoDate($0.initiated))) }
            known.uploads = found
            return found
        }
        let folder = s3.key(kind.folder.isEmpty ? "" : kind.folder + "/")
        var removed: Set<String> = []
        for upload in uploads where upload.key.hasPrefix(folder) {
            // Kinds at the top (the config) own only what is not in another kind's folder.
            if kind.folder.isEmpty && upload.key.dropFirst(folder.count).contains("/") { continue }
            guard Double(upload.started) < Date().timeIntervalSince1970 - leftoverAge else { continue }
            if (try? client.send(.DELETE, key: upload.key, query: [("uploadId", upload.id)], accept: [200, 204, 404])) != nil {
                removed.insert(upload.id)
            }
        }
        if !removed.isEmpty { known.lock.withLock { known.uploads?.removeAll { removed.contains($0.id) } } }
        return removed.count
    }

    /// `2026-12-06T10:00:00.000Z` as Unix seconds.
    static func isoDate(_ text: String) -> Int64 {
        Timestamp.parseISO8601(String(text.prefix(19)) + "Z") ?? 0
    }

    /// `Sun, 06 Dec 2026 10:00:00 GMT` as Unix seconds.
    static func httpDate(_ text: String?) -> Int64 {
        guard let text else { return 0 }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) } ?? 0
    }
}

/// Ranged reads of one object, each GET reading `readAhead` bytes ahead so that a sequential reader makes few
/// requests; the windows read are kept by the storage (`ReadWindows`) for every reader of the object. A reader
/// that reads on from where its last read ended (a pack's frames in order, an archive's entries) has the next
/// `windowsAhead` windows fetched on threads of their own meanwhile, so that its requests overlap what it does
/// with the bytes instead of adding to it.
final class S3ObjectReader: StoredObjectReader {
    let storage: S3Storage
    let name: StoredName
    let key: String
    let size: Int64
    static let readAhead = 1 << 20
    static let windowsAhead = 2
    /// Where this reader's last read ended.
    private var lastEnd: Int64 = 0

    init(storage: S3Storage, name: StoredName, key: String, size: Int64) {
        self.storage = storage
        self.name = name
        self.key = key
        self.size = size
    }

    func read(at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) throws {
        guard count > 0 else { return }
        guard offset >= 0, offset + Int64(count) <= size else {
            throw StorageError.shortRead(name, location: storage.location, offset: offset, wanted: count, size: size)
        }
        defer {
            if offset == lastEnd { readAheadOf(offset + Int64(count) - 1) }
            lastEnd = offset + Int64(count)
        }
        if storage.windows.copy(name, at: offset, count: count, into: destination) { return }
        let length = Int(min(Int64(max(count, Self.readAhead)), size - offset))
        let body = try Self.fetch(storage, name, key: key, size: size, from: offset, length: length)
        guard body.count >= count else {
            throw StorageError.shortRead(name, location: storage.location, offset: offset, wanted: count, size: Int64(body.count))
        }
        body.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: count) }
        storage.windows.keep(name, start: offset, bytes: body, size: size)
    }

    /// One ranged GET of `length` bytes at `offset` of the object `name` (at `key`, of `size` bytes).
    private static func fetch(
        _ storage: S3Storage, _ name: StoredName, key: String, size: Int64, from offset: Int64, length: Int
    ) throws -> [UInt8] {
        let response = try storage.client.send(
            .GET, key: key, headers: [("Range", "bytes=\(offset)-\(offset + Int64(length) - 1)")], accept: [206, 200, 404, 416])
        guard response.status == 206 || response.status == 200 else {
            throw StorageError.shortRead(name, location: storage.location, offset: offset, wanted: length, size: 0)
        }
        if response.status == 200 {
            // A server that ignored Range sent the whole object: usable only when that is what was asked for
            // (a small object read from its start), never sliced out of a body of unknown size.
            guard offset == 0, Int64(response.body.count) == size, size <= Int64(length) else {
                throw VeloError(
                    "\(storage.describe(name)): the server answered a ranged read with the whole object (\(response.body.count) bytes); it must honour Range",
                    kind: .io)
            }
        }
        return response.body
    }

    /// Fetches the windows after the one holding `last` (the last byte read), each on a thread of its own,
    /// unless they are kept or being fetched already. A failure is left to the reader, which then asks itself.
    private func readAheadOf(_ last: Int64) {
        guard var start = storage.windows.end(of: name, holding: last) else { return }
        for _ in 0..<Self.windowsAhead {
            guard start < size else { return }
            let length = Int(min(Int64(Self.readAhead), size - start))
            if storage.windows.claim(name, start: start) {
                let (storage, name, key, size, at) = (storage, name, key, size, start)
                Thread.detachNewThread {
                    if let body = try? Self.fetch(storage, name, key: key, size: size, from: at, length: length), body.count == length {
                        storage.windows.keep(name, start: at, bytes: body, size: size, claimed: true)
                    } else {
                        storage.windows.abandon(name, start: at)
                    }
                }
            }
            start += Int64(length)
        }
    }
}

/// An archive read from this machine's cache (`S3Storage.open(_:cached:)`): at most `ObjectCache.archiveLimit`.
final class CachedObjectReader: StoredObjectReader {
    let name: StoredName
    let bytes: [UInt8]
    let location: String
    var size: Int64 { Int64(bytes.count) }

    init(name: StoredName, bytes: [UInt8], location: String) {
        self.name = name
        self.bytes = bytes
        self.location = location
    }

    func read(at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) throws {
        guard count > 0 else { return }
        guard offset >= 0, offset + Int64(count) <= size else {
            throw StorageError.shortRead(name, location: location, offset: offset, wanted: count, size: size)
        }
        bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: count) }
    }
}
