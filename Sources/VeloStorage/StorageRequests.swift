import Foundation

/// Requests a storage sent, by kind: what an object store bills (S3 prices LIST and PUT ten times a GET, which
/// Litestream's users found on their invoices). Every attempt counts, retries included. `--json` reports of
/// backup, prune, verify and copy carry the requests they made; a local folder counts none (nil).
public struct StorageRequests: Sendable, Equatable, Encodable {
    public var get = 0
    public var head = 0
    public var list = 0
    public var put = 0
    /// Multipart uploads' create and complete calls.
    public var post = 0
    public var delete = 0
    /// Attempts that were retried (included in the counts above).
    public var retries = 0
    /// Bytes sent in request bodies and received in response bodies.
    public var bytesSent: Int64 = 0
    public var bytesReceived: Int64 = 0

    public init() {}

    /// Every request, whatever its kind.
    public var total: Int { self.get + head + list + put + post + delete }

    /// The requests made between `earlier` and `self`.
    public static func - (later: StorageRequests, earlier: StorageRequests) -> StorageRequests {
        var d = StorageRequests()
        d.get = later.get - earlier.get
        d.head = later.head - earlier.head
        d.list = later.list - earlier.list
        d.put = later.put - earlier.put
        d.post = later.post - earlier.post
        d.delete = later.delete - earlier.delete
        d.retries = later.retries - earlier.retries
        d.bytesSent = later.bytesSent - earlier.bytesSent
        d.bytesReceived = later.bytesReceived - earlier.bytesReceived
        return d
    }

    /// The requests of two operations together.
    public static func + (a: StorageRequests, b: StorageRequests) -> StorageRequests {
        var sum = a
        sum.get += b.get
        sum.head += b.head
        sum.list += b.list
        sum.put += b.put
        sum.post += b.post
        sum.delete += b.delete
        sum.retries += b.retries
        sum.bytesSent += b.bytesSent
        sum.bytesReceived += b.bytesReceived
        return sum
    }

    enum CodingKeys: String, CodingKey { case total, get, head, list, put, post, delete, retries, bytesSent, bytesReceived }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(get, forKey: .get)
        try c.encode(head, forKey: .head)
        try c.encode(list, forKey: .list)
        try c.encode(put, forKey: .put)
        try c.encode(post, forKey: .post)
        try c.encode(delete, forKey: .delete)
        try c.encode(retries, forKey: .retries)
        try c.encode(bytesSent, forKey: .bytesSent)
        try c.encode(bytesReceived, forKey: .bytesReceived)
    }
}

/// The running count of a storage's requests, shared by the threads that send them.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts = StorageRequests()

    var current: StorageRequests { lock.withLock { counts } }

    func record(_ update: (inout StorageRequests) -> Void) { lock.withLock { update(&counts) } }
}
