import Foundation
import NIOHTTP1
import VeloFormat

/// A Laravel S3 disk that is not a repository: the objects under a prefix of a bucket (a tenant's uploads, under
/// `tenants/{id}/app` of the app's bucket or at the root of the tenant's own), listed, read, written, copied and
/// removed by their paths relative to the prefix. Requests go through the same signed client as a repository on
/// S3 (retries with backoff, short bodies refused, every request counted); large objects are written as
/// multipart uploads (`S3ObjectWriter`) and read in ranged GETs, never held whole.
public final class S3Disk: Sendable {
    /// One object, as a listing gives it.
    public struct Object: Sendable, Equatable {
        /// Relative to the disk's prefix (`uploads/collections/posts/….png`).
        public var relative: String
        public var size: Int64
        /// `LastModified` in nanoseconds since the epoch (S3 keeps it to the second or the millisecond).
        public var modified: Int64
        /// The version listed: a read asks for this one and no other.
        public var etag: String

        public init(relative: String, size: Int64, modified: Int64, etag: String) {
            self.relative = relative
            self.size = size
            self.modified = modified
            self.etag = etag
        }
    }

    let client: S3Client
    /// Bytes of one ranged GET.
    static let readWindow = 8 << 20
    /// The largest object one `CopyObject` copies; larger ones are copied in parts of this size. S3 allows
    /// 5 GiB in one, but a server copies at its own pace within the request's deadline (120 s): a part of
    /// 128 MiB stays well inside it on a slow one.
    public static let singleCopyLimit: Int64 = 128 << 20

    /// The disk at `location` (its prefix is the disk's root), signed with `credentials`, or when they are nil
    /// with those of `environment` (`S3Credentials`).
    /// - Throws: `.usage` when no credentials are given or found.
    public init(
        location: S3Location, credentials: S3RequestSigner.Credentials?,
        environment: [String: String] = ProcessInfo.processInfo.environment, attempts: Int = 5, timeoutSeconds: Int64 = 120
    ) throws {
        client = S3Client(
            location: location, credentials: try credentials ?? S3Credentials.resolve(environment: environment), attempts: attempts,
            timeout: .seconds(timeoutSeconds))
    }

    public var location: S3Location { client.location }
    /// Requests sent so far, by kind.
    public var requests: StorageRequests { client.counter.current }

    /// `relative` as messages name it: the disk's location and the path.
    public func describe(_ relative: String) -> String { "\(location.description)/\(relative)" }

    /// Every object whose relative path starts with `folder` (`uploads/`), in key order (UTF-8 bytes), one
    /// request per 1,000 objects. Folder markers (keys ending in `/`) are not objects.
    public func list(_ folder: String, _ body: (Object) throws -> Void) throws {
        let prefix = location.key(folder)
        let rootLength = location.prefix.isEmpty ? 0 : location.prefix.count + 1
        try client.listObjects(prefix: prefix) { listed in
            guard !listed.key.hasSuffix("/") else { return }
            guard let size = listed.size, size >= 0, let time = listed.lastModified, Self.nanoseconds(time) > 0, let etag = listed.etag
            else {
                throw VeloError(
                    "\(location.description): the server's listing gives \(listed.key) without a size, a readable time or an ETag",
                    kind: .io)
            }
            try body(Object(relative: String(listed.key.dropFirst(rootLength)), size: size, modified: Self.nanoseconds(time), etag: etag))
        }
    }

    /// Streams `object` to `body` in chunks of `chunkBytes` (the last one shorter), from ranged GETs of 8 MiB
    /// that each ask for the ETag listed (`If-Match`), so every byte is of the version listed. Returns false
    /// when the object was deleted before its first byte was read.
    /// - Throws: `.io` naming the object when it changed or was deleted during the read, or a response is not
    ///   the range asked for.
    public func read(_ object: Object, chunkBytes: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        precondition(chunkBytes > 0)
        let key = location.key(object.relative)
        let window = max(1, Self.readWindow / chunkBytes) * chunkBytes
        var offset: Int64 = 0
        while offset < object.size {
            let length = Int(min(Int64(window), object.size - offset))
            let response = try client.send(
                .GET, key: key, headers: [("Range", "bytes=\(offset)-\(offset + Int64(length) - 1)"), ("If-Match", object.etag)],
                accept: [200, 206, 404, 412, 416])
            switch response.status {
            case 404 where offset == 0: return false
            case 404, 416: throw VeloError("\(describe(object.relative)): was deleted while it was read", kind: .io)
            case 412:
                throw VeloError("\(describe(object.relative)): changed while it was read (its ETag is no longer \(object.etag))", kind: .io)
            default: break
            }
            // A server that ignored Range sent the whole object: usable when that is exactly the range asked for.
            guard response.body.count == length, response.status == 206 || (offset == 0 && Int64(length) == object.size) else {
                throw VeloError(
                    "\(describe(object.relative)): asked for bytes \(offset)-\(offset + Int64(length) - 1), the server sent \(response.body.count) bytes (status \(response.status))",
                    kind: .io)
            }
            try response.body.withUnsafeBytes { all in
                var start = 0
                while start < all.count {
                    let end = min(start + chunkBytes, all.count)
                    try body(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                    start = end
                }
            }
            offset += Int64(length)
        }
        return true
    }

    /// Writes the object at `relative` as it comes, with `contentType` (what a browser is told it is): it appears
    /// whole on `commit` (multipart above 8 MiB), never on `abort`.
    public func create(_ relative: String, contentType: String? = nil) -> any ObjectWriter {
        S3ObjectWriter(
            client: client, key: location.key(relative), label: describe(relative),
            headers: contentType.map { [("Content-Type", $0)] } ?? [])
    }

    /// Copies the object at `source` (of `size` bytes) to `target` inside the bucket, without its bytes
    /// leaving the server: one `CopyObject`, or a multipart copy in parts of `partBytes` above `singleLimit`.
    public func copy(
        _ source: String, to target: String, size: Int64, singleLimit: Int64 = S3Disk.singleCopyLimit,
        partBytes: Int64 = S3Disk.singleCopyLimit
    )
        throws
    {
        let from =
            "/\(location.bucket)/"
            + location.key(source).split(separator: "/", omittingEmptySubsequences: false)
            .map { S3RequestSigner.uriEncode(String($0)) }.joined(separator: "/")
        let key = location.key(target)
        /// S3 may answer a copy 200 with an error in its body.
        func check(_ response: S3Client.Response, _ what: String) throws {
            if let code = XMLValues.read(response.body, elements: ["Code"])["Code"]?.first {
                throw VeloError("\(describe(target)): \(what) failed: \(code)", kind: .io)
            }
        }
        if size <= singleLimit {
            try check(try client.send(.PUT, key: key, headers: [("x-amz-copy-source", from)]), "copying \(source)")
            return
        }
        let created = try client.send(.POST, key: key, query: [("uploads", "")])
        guard let id = XMLValues.read(created.body, elements: ["UploadId"])["UploadId"]?.first else {
            throw VeloError("\(describe(target)): the server started no multipart copy", kind: .io)
        }
        do {
            var etags: [String] = []
            var offset: Int64 = 0
            while offset < size {
                let end = min(offset + partBytes, size) - 1
                let response = try client.send(
                    .PUT, key: key, query: [("partNumber", String(etags.count + 1)), ("uploadId", id)],
                    headers: [("x-amz-copy-source", from), ("x-amz-copy-source-range", "bytes=\(offset)-\(end)")])
                try check(response, "copying part \(etags.count + 1) of \(source)")
                guard let etag = XMLValues.read(response.body, elements: ["ETag"])["ETag"]?.first else {
                    throw VeloError("\(describe(target)): part \(etags.count + 1) of the copy has no ETag", kind: .io)
                }
                etags.append(etag)
                offset = end + 1
            }
            let xml =
                "<CompleteMultipartUpload>"
                + etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>" }.joined()
                + "</CompleteMultipartUpload>"
            try check(
                try client.send(.POST, key: key, query: [("uploadId", id)], body: Array(xml.utf8)), "completing the copy of \(source)")
        } catch {
            _ = try? client.send(.DELETE, key: key, query: [("uploadId", id)], accept: [200, 204, 404])
            throw error
        }
    }

    /// Removes the object at `relative` (nothing there is fine).
    public func remove(_ relative: String) throws {
        _ = try client.send(.DELETE, key: location.key(relative), accept: [200, 204, 404])
    }

    /// Removes what a killed writer left under `folder`: objects and unfinished multipart uploads older than
    /// `age` seconds (a live writer's are younger). Returns how many.
    @discardableResult
    public func removeLeftovers(_ folder: String, olderThan age: TimeInterval) throws -> Int {
        let cutoff = Int64((Date().timeIntervalSince1970 - age) * 1e9)
        var removed = 0
        var old: [String] = []
        try list(folder) { if $0.modified < cutoff { old.append($0.relative) } }
        for relative in old {
            try remove(relative)
            removed += 1
        }
        return try removed + abortUploads(folder, olderThan: age)
    }

    /// Aborts the multipart uploads under `folder` started more than `age` seconds ago (a killed writer's, whose
    /// parts the server would otherwise keep, and bill, for good). Returns how many.
    @discardableResult
    public func abortUploads(_ folder: String, olderThan age: TimeInterval) throws -> Int {
        let cutoff = Int64((Date().timeIntervalSince1970 - age) * 1e9)
        var stale: [S3Client.ListedUpload] = []
        try client.listUploads(prefix: location.key(folder)) { if Self.nanoseconds($0.initiated) < cutoff { stale.append($0) } }
        for upload in stale {
            _ = try client.send(.DELETE, key: upload.key, query: [("uploadId", upload.id)], accept: [200, 204, 404])
        }
        return stale.count
    }

    /// `2026-12-06T10:00:00.123Z` as nanoseconds since the epoch (0 when unreadable).
    static func nanoseconds(_ text: String) -> Int64 {
        let seconds = S3Storage.isoDate(text)
        var fraction: Int64 = 0
        if let dot = text.firstIndex(of: ".") {
            let digits = text[text.index(after: dot)...].prefix { $0.isNumber }.prefix(9)
            fraction = (Int64(digits) ?? 0) * Int64(pow(10, Double(9 - digits.count)))
        }
        return seconds * 1_000_000_000 + fraction
    }
}
