import Foundation
import VeloFormat

/// An object written as it comes (a repository's archive or pack, a restored upload): bytes are buffered up to one part (8 MiB), and each full part is
/// uploaded on a thread of its own while the writer fills the next one, at most `inFlight` at a time (the
/// backup's compression keeps going during an upload instead of waiting for it). The multipart upload is
/// completed on `commit`, after every part landed, and aborted on `abort` or on any part's failure; a small
/// object is one PUT on `commit`. Memory: the part being filled and `inFlight` parts being sent.
class S3ObjectWriter: ObjectWriter {
    let client: S3Client
    let key: String
    /// How errors name the object.
    let label: String
    /// Told the object's size once it is complete, with its bytes when it was one PUT (a small object).
    let committed: (Int64, [UInt8]?) -> Void
    /// Sent with the PUT or the multipart upload's start (its `Content-Type`).
    let headers: [(String, String)]
    static let inFlight = 2
    private(set) var bytesWritten: Int64 = 0
    private var buffer: [UInt8] = []
    private var uploadID: String?
    private var partCount = 0
    private var finished = false
    /// What the part uploads report, from their threads.
    private let sent = SentParts()
    private let slots = DispatchSemaphore(value: S3ObjectWriter.inFlight)
    private let uploads = DispatchGroup()

    private final class SentParts: @unchecked Sendable {
        let lock = NSLock()
        var etags: [Int: String] = [:]
        var failure: (any Error)?
    }

    init(
        client: S3Client, key: String, label: String, headers: [(String, String)] = [],
        committed: @escaping (Int64, [UInt8]?) -> Void = { _, _ in }
    ) {
        self.headers = headers
        self.client = client
        self.key = key
        self.label = label
        self.committed = committed
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

    /// Hands the buffered part to an upload of its own (waiting for a free slot), after starting the multipart
    /// upload if this is the first part. A failure of an earlier part is thrown here, at the latest on `commit`.
    private func uploadPart() throws {
        do {
            if let failure = sent.lock.withLock({ sent.failure }) { throw failure }
            if uploadID == nil {
                let created = try client.send(.POST, key: key, query: [("uploads", "")], headers: headers)
                guard let id = XMLValues.read(created.body, elements: ["UploadId"])["UploadId"]?.first else {
                    throw VeloError("\(label): the server started no multipart upload", kind: .io)
                }
                uploadID = id
            }
            partCount += 1
            let (number, body, id) = (partCount, buffer, uploadID!)
            buffer = []
            buffer.reserveCapacity(S3Storage.partSize)
            slots.wait()
            uploads.enter()
            let (client, objectKey, parts, done, describe) = (client, self.key, self.sent, self.uploads, label)
            let free = self.slots
            Thread.detachNewThread {
                defer {
                    free.signal()
                    done.leave()
                }
                do {
                    let response = try client.send(
                        .PUT, key: objectKey, query: [("partNumber", String(number)), ("uploadId", id)], body: body)
                    guard let etag = response.header("ETag") else { throw VeloError("\(describe): part \(number) has no ETag", kind: .io) }
                    parts.lock.withLock { parts.etags[number] = etag }
                } catch {
                    parts.lock.withLock { if parts.failure == nil { parts.failure = error } }
                }
            }
        } catch {
            abort()
            throw error
        }
    }

    func commit() throws {
        guard !finished else { return }
        var whole: [UInt8]?
        if uploadID == nil {
            try client.send(.PUT, key: key, headers: headers, body: buffer)
            whole = buffer
        } else {
            if !buffer.isEmpty { try uploadPart() }
            uploads.wait()
            let etags = sent.lock.withLock { sent.etags }
            do {
                if let failure = sent.lock.withLock({ sent.failure }) { throw failure }
                let xml =
                    "<CompleteMultipartUpload>"
                    + (1...partCount).map { "<Part><PartNumber>\($0)</PartNumber><ETag>\(etags[$0] ?? "")</ETag></Part>" }.joined()
                    + "</CompleteMultipartUpload>"
                let response = try client.send(.POST, key: key, query: [("uploadId", uploadID!)], body: Array(xml.utf8))
                // S3 may answer 200 with an error in the body.
                if let code = XMLValues.read(response.body, elements: ["Code"])["Code"]?.first {
                    throw VeloError("\(label): completing the upload failed: \(code)", kind: .io)
                }
            } catch {
                abort()
                throw error
            }
        }
        finished = true
        buffer = []
        committed(bytesWritten, whole)
    }

    /// Waits for the parts in flight, then aborts the multipart upload (the server drops the parts it has).
    func abort() {
        guard !finished else { return }
        finished = true
        buffer = []
        uploads.wait()
        if let uploadID {
            _ = try? client.send(.DELETE, key: key, query: [("uploadId", uploadID)], accept: [200, 204, 404])
        }
    }
}

/// A repository object's writer: `S3ObjectWriter` under its stored name.
final class S3StoredObjectWriter: S3ObjectWriter, StoredObjectWriter {
    let name: StoredName

    init(client: S3Client, name: StoredName, key: String, label: String, committed: @escaping (Int64, [UInt8]?) -> Void) {
        self.name = name
        super.init(client: client, key: key, label: label, committed: committed)
    }
}
