import Crypto
import Foundation
import NIOHTTP1
import VeloFormat

/// A repository in an S3 bucket (any S3-compatible server): each stored object is one S3 object under the
/// location's prefix, at the same relative path as in a local repository, so a folder synced to a bucket is a
/// repository and back. The storage promises hold as S3 gives them:
/// - an object appears whole or not at all: a PUT, or a multipart upload completed on `commit` (parts of
///   8 MiB, one buffered at a time), aborted on `abort` or failure;
/// - `saveIfAbsent` is a PUT with `If-None-Match: *` (412: another writer's), and `removeIfUnchanged` a read,
///   a comparison and a DELETE with `If-Match: <ETag>`, so of two writers exactly one wins;
/// - reads are ranged GETs (1 MiB read ahead for sequential readers), never a whole large object in memory;
/// - there is no cheap change stamp, so no catalog cache is trusted;
/// - leftovers are multipart uploads a killed writer never completed, aborted after `leftoverAge`.
public final class S3Storage: RepositoryStorage, @unchecked Sendable {
    let client: S3Client
    public let location: String
    /// Multipart uploads started longer ago than this are a killed writer's (no live writer takes this long
    /// over one object).
    let leftoverAge: TimeInterval
    static let partSize = 8 << 20

    /// Opens the bucket location `text` (`s3:…`) with the credentials of the environment; each request is tried
    /// `attempts` times, each attempt given `timeoutSeconds`; unfinished multipart uploads older than
    /// `leftoverAge` seconds are removed as a killed writer's.
    public init(
        _ text: String, environment: [String: String] = ProcessInfo.processInfo.environment, attempts: Int = 5, timeoutSeconds: Int64 = 120,
        leftoverAge: TimeInterval = 6 * 3600
    ) throws {
        self.leftoverAge = leftoverAge
        let location = try S3Location(text, environment: environment)
        client = S3Client(
            location: location, credentials: try S3Credentials.resolve(environment: environment), attempts: attempts,
            timeout: .seconds(timeoutSeconds))
        self.location = location.description
    }

    var s3: S3Location { client.location }

    func key(_ name: StoredName) throws -> String {
        guard name.isValid else { throw StorageError.invalidName(name) }
        return s3.key(name.relativePath)
    }

    /// Creates the bucket if it does not exist (`velo init`); an existing one of this account is fine.
    public func createBucketIfMissing() throws {
        _ = try client.send(.PUT, key: nil, accept: [200, 409])
    }

    public func save(_ name: StoredName, _ bytes: [UInt8]) throws {
        _ = try client.send(.PUT, key: try key(name), body: bytes)
    }

    public func saveIfAbsent(_ name: StoredName, _ bytes: [UInt8]) throws -> Bool {
        let response = try client.send(.PUT, key: try key(name), headers: [("If-None-Match", "*")], body: bytes, accept: [200, 412, 409])
        return response.status == 200
    }

    public func create(_ name: StoredName) throws -> any StoredObjectWriter {
        S3ObjectWriter(storage: self, name: name, key: try key(name))
    }

    public func load(_ name: StoredName) throws -> [UInt8] {
        let response = try client.send(.GET, key: try key(name), accept: [200, 404])
        guard response.status == 200 else { throw StorageError.missing(name, location: location) }
        return response.body
    }

    public func open(_ name: StoredName) throws -> any StoredObjectReader {
        guard let info = try stat(name) else { throw StorageError.missing(name, location: location) }
        return S3ObjectReader(storage: self, name: name, key: try key(name), size: info.size)
    }

    public func stat(_ name: StoredName) throws -> StoredInfo? {
        let response = try client.send(.HEAD, key: try key(name), accept: [200, 404])
        guard response.status == 200 else { return nil }
        let size = response.header("Content-Length").flatMap(Int64.init) ?? 0
        return StoredInfo(size: size, modified: Self.httpDate(response.header("Last-Modified")))
    }

    public func list(_ kind: StoredKind, _ body: (StoredName, StoredInfo) throws -> Void) throws {
        let folder = kind.folder.isEmpty ? "" : kind.folder + "/"
        let prefix = s3.key(folder)
        let shallow = kind == .config || kind == .marker
        var token: String?
        repeat {
            var query: [(String, String)] = [("list-type", "2"), ("prefix", prefix)]
            if shallow { query.append(("delimiter", "/")) }
            if let token { query.append(("continuation-token", token)) }
            let response = try client.send(.GET, key: nil, query: query)
            let values = XMLValues.read(response.body, elements: ["Key", "Size", "LastModified", "NextContinuationToken", "IsTruncated"])
            let keys = values["Key"] ?? [], sizes = values["Size"] ?? [], times = values["LastModified"] ?? []
            for (i, key) in keys.enumerated() {
                guard key.hasPrefix(prefix) else { continue }
                let relative = folder + key.dropFirst(prefix.count)
                guard let name = StoredName.parse(relative, as: kind) else { continue }
                try body(
                    name,
                    StoredInfo(
                        size: i < sizes.count ? Int64(sizes[i]) ?? 0 : 0, modified: i < times.count ? Self.isoDate(times[i]) : 0))
            }
            token = values["IsTruncated"]?.first == "true" ? values["NextContinuationToken"]?.first : nil
        } while token != nil
    }

    public func remove(_ name: StoredName) throws {
        _ = try client.send(.DELETE, key: try key(name), accept: [200, 204, 404])
    }

    public func removeIfUnchanged(_ name: StoredName, expected: [UInt8]) throws -> Bool {
        let response = try client.send(.GET, key: try key(name), accept: [200, 404])
        guard response.status == 200, response.body == expected, let etag = response.header("ETag") else { return false }
        let deleted = try client.send(.DELETE, key: try key(name), headers: [("If-Match", etag)], accept: [200, 204, 404, 412])
        return deleted.status == 200 || deleted.status == 204
    }

    public func changeStamp(_ kind: StoredKind) -> String? { nil }

    /// `~/.cache/velo/<bucket>-<hash of the location>`: caches of this repository, deletable at any time.
    public var cacheDirectory: String? {
        let base = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        return (base as NSString).appendingPathComponent("velo/\(s3.bucket)-\(locationHash)")
    }

    public var scratchDirectory: String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent("velo-\(s3.bucket)-\(locationHash)")
    }

    var locationHash: String { String(SHA256.hash(data: Data(location.utf8)).map { String(format: "%02x", $0) }.joined().prefix(16)) }

    public func removeScratch() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: scratchDirectory)) ?? [] {
            try? FileManager.default.removeItem(atPath: (scratchDirectory as NSString).appendingPathComponent(name))
        }
    }

    /// Aborts the multipart uploads of `kind` that a writer started more than `leftoverAge` ago and never
    /// completed (a killed one: a live writer aborts its own on failure).
    @discardableResult
    public func removeLeftovers(_ kind: StoredKind) throws -> Int {
        let folder = kind.folder.isEmpty ? "" : kind.folder + "/"
        let response = try client.send(.GET, key: nil, query: [("uploads", ""), ("prefix", s3.key(folder))])
        let values = XMLValues.read(response.body, elements: ["Key", "UploadId", "Initiated"])
        let keys = values["Key"] ?? [], ids = values["UploadId"] ?? [], started = values["Initiated"] ?? []
        var removed = 0
        for (i, key) in keys.enumerated() where i < ids.count && i < started.count {
            guard Double(Self.isoDate(started[i])) < Date().timeIntervalSince1970 - leftoverAge else { continue }
            _ = try? client.send(.DELETE, key: key, query: [("uploadId", ids[i])], accept: [200, 204, 404])
            removed += 1
        }
        return removed
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

/// A streamed object: one PUT when it stays under a part, else a multipart upload (8 MiB parts, one buffered),
/// completed on `commit`, aborted on `abort`.
final class S3ObjectWriter: StoredObjectWriter {
    let storage: S3Storage
    let name: StoredName
    let key: String
    private(set) var bytesWritten: Int64 = 0
    private var buffer: [UInt8] = []
    private var uploadID: String?
    private var parts: [String] = []  // ETags, in order
    private var finished = false

    init(storage: S3Storage, name: StoredName, key: String) {
        self.storage = storage
        self.name = name
        self.key = key
        buffer.reserveCapacity(S3Storage.partSize)
    }

    deinit { if !finished { abort() } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(rest.count, S3Storage.partSize - buffer.count)
            buffer.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            bytesWritten += Int64(take)
            if buffer.count == S3Storage.partSize { try uploadPart() }
        }
    }

    private func uploadPart() throws {
        do {
            if uploadID == nil {
                let created = try storage.client.send(.POST, key: key, query: [("uploads", "")])
                guard let id = XMLValues.read(created.body, elements: ["UploadId"])["UploadId"]?.first else {
                    throw VeloError("\(storage.describe(name)): the server started no multipart upload", kind: .io)
                }
                uploadID = id
            }
            let response = try storage.client.send(
                .PUT, key: key, query: [("partNumber", String(parts.count + 1)), ("uploadId", uploadID!)], body: buffer)
            guard let etag = response.header("ETag") else { throw VeloError("\(storage.describe(name)): a part has no ETag", kind: .io) }
            parts.append(etag)
            buffer.removeAll(keepingCapacity: true)
        } catch {
            abort()
            throw error
        }
    }

    func commit() throws {
        guard !finished else { return }
        if uploadID == nil {
            try storage.client.send(.PUT, key: key, body: buffer)
        } else {
            if !buffer.isEmpty { try uploadPart() }
            let xml =
                "<CompleteMultipartUpload>"
                + parts.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>" }.joined()
                + "</CompleteMultipartUpload>"
            do {
                let response = try storage.client.send(.POST, key: key, query: [("uploadId", uploadID!)], body: Array(xml.utf8))
                // S3 may answer 200 with an error in the body.
                if let code = XMLValues.read(response.body, elements: ["Code"])["Code"]?.first {
                    throw VeloError("\(storage.describe(name)): completing the upload failed: \(code)", kind: .io)
                }
            } catch {
                abort()
                throw error
            }
        }
        finished = true
        buffer = []
    }

    func abort() {
        guard !finished else { return }
        finished = true
        buffer = []
        if let uploadID {
            _ = try? storage.client.send(.DELETE, key: key, query: [("uploadId", uploadID)], accept: [200, 204, 404])
        }
    }
}

/// Ranged reads of one object, with 1 MiB read ahead so that a sequential reader makes few requests.
final class S3ObjectReader: StoredObjectReader {
    let storage: S3Storage
    let name: StoredName
    let key: String
    let size: Int64
    static let readAhead = 1 << 20
    private var window: [UInt8] = []
    private var windowStart: Int64 = 0

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
        if !(offset >= windowStart && offset + Int64(count) <= windowStart + Int64(window.count)) {
            let length = Int(min(Int64(max(count, Self.readAhead)), size - offset))
            let response = try storage.client.send(
                .GET, key: key, headers: [("Range", "bytes=\(offset)-\(offset + Int64(length) - 1)")], accept: [206, 200, 404, 416])
            guard response.status == 206 || response.status == 200 else {
                throw StorageError.shortRead(name, location: storage.location, offset: offset, wanted: count, size: 0)
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
            guard response.body.count >= count else {
                throw StorageError.shortRead(
                    name, location: storage.location, offset: offset, wanted: count, size: Int64(response.body.count))
            }
            window = response.body
            windowStart = offset
        }
        let start = Int(offset - windowStart)
        window.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + start, byteCount: count) }
    }
}
