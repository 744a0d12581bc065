import Crypto
import Foundation
import VeloFormat

/// Streams an object into its sealed form (`SealedObject`): bytes are gathered into 64 KiB chunks, each sealed
/// and handed to the storage's own writer as soon as the next byte shows it is not the last; the last chunk is
/// sealed as final on `commit`. Memory is one chunk, whatever the object's size.
final class SealedObjectWriter: StoredObjectWriter {
    let name: StoredName
    private let inner: any StoredObjectWriter
    private let key: SymmetricKey
    private let relativePath: String
    /// Plaintext of the chunk not sealed yet (at most a chunk).
    private var pending: [UInt8] = []
    private var sealed: [UInt8] = []
    private var index: Int64 = 0
    private(set) var bytesWritten: Int64 = 0

    init(_ inner: any StoredObjectWriter, keys: RepositoryKeys) throws {
        name = inner.name
        self.inner = inner
        relativePath = inner.name.relativePath
        key = keys.objectKey(relativePath)
        pending.reserveCapacity(SealedObject.chunkBytes)
        sealed.reserveCapacity(SealedObject.sealedChunkBytes)
        try inner.write(SealedObject.magic)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var at = 0
        while at < bytes.count {
            if pending.count == SealedObject.chunkBytes { try flush(final: false) }
            let take = min(bytes.count - at, SealedObject.chunkBytes - pending.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[at..<(at + take)]))
            at += take
        }
        bytesWritten += Int64(bytes.count)
    }

    private func flush(final: Bool) throws {
        sealed.removeAll(keepingCapacity: true)
        try pending.withUnsafeBytes {
            try SealedObject.sealChunk($0, key: key, relativePath: relativePath, index: index, final: final, into: &sealed)
        }
        try sealed.withUnsafeBytes { try inner.write($0) }
        pending.removeAll(keepingCapacity: true)
        index += 1
    }

    func commit() throws {
        try flush(final: true)
        try inner.commit()
    }

    func abort() { inner.abort() }
}
