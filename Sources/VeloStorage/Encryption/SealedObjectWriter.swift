import Crypto
import Foundation
import VeloFormat

/// Seals a stream of bytes (`SealedObject`) into a sink as they come: bytes are gathered into 64 KiB chunks, each
/// sealed and handed on as soon as the next byte shows it is not the last; the last chunk is sealed as final by
/// `finish`. Memory is one chunk, whatever the object's size. Used for stored objects (`SealedObjectWriter`) and
/// for a sealed export file (`velo export` of an encrypted snapshot).
package final class SealingStream {
    private let key: SymmetricKey
    private let relativePath: String
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    /// Plaintext of the chunk not sealed yet (at most a chunk).
    private var pending: [UInt8] = []
    private var sealed: [UInt8] = []
    private var index: Int64 = 0
    package private(set) var bytesWritten: Int64 = 0

    /// Starts the object `relativePath` (its name in the chunks' associated data): writes the magic to `sink`.
    package init(keys: RepositoryKeys, relativePath: String, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        self.relativePath = relativePath
        self.sink = sink
        key = keys.objectKey(relativePath)
        pending.reserveCapacity(SealedObject.chunkBytes)
        sealed.reserveCapacity(SealedObject.sealedChunkBytes)
        try SealedObject.magic.withUnsafeBytes { try sink($0) }
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
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
        try sealed.withUnsafeBytes { try sink($0) }
        pending.removeAll(keepingCapacity: true)
        index += 1
    }

    /// Seals the last chunk.
    package func finish() throws { try flush(final: true) }
}

/// A stored object written sealed: a `SealingStream` into the storage's own writer.
final class SealedObjectWriter: StoredObjectWriter {
    let name: StoredName
    private let inner: any StoredObjectWriter
    private let stream: SealingStream

    init(_ inner: any StoredObjectWriter, keys: RepositoryKeys) throws {
        name = inner.name
        self.inner = inner
        stream = try SealingStream(keys: keys, relativePath: inner.name.relativePath) { try inner.write($0) }
    }

    var bytesWritten: Int64 { stream.bytesWritten }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try stream.write(bytes) }

    func commit() throws {
        try stream.finish()
        try inner.commit()
    }

    func abort() { inner.abort() }
}
