import Crypto
import Foundation
import VeloFormat

/// Reads ranges of a sealed object (`SealedObject`): each read fetches the chunks it touches in one read of the
/// storage's own reader and authenticates every one of them before a byte is copied out. The last chunk opened is
/// kept, so a reader that reads in small steps (an archive's tar blocks) opens each chunk once.
final class SealedObjectReader: StoredObjectReader {
    let name: StoredName
    let size: Int64
    private let inner: any StoredObjectReader
    private let key: SymmetricKey
    private let relativePath: String
    private let describe: String
    private let chunks: Int64
    private var kept: (index: Int64, bytes: [UInt8])?

    /// - Throws: `VeloError` (`.damaged`) when the stored size is not one a sealed object can have.
    init(_ inner: any StoredObjectReader, keys: RepositoryKeys, describe: String) throws {
        name = inner.name
        self.inner = inner
        relativePath = inner.name.relativePath
        self.describe = describe
        guard let plain = SealedObject.plaintextSize(inner.size) else {
            throw SealedObject.damage(describe, "its size (\(inner.size) bytes) is not one a sealed object can have (cut short)")
        }
        size = plain
        chunks = SealedObject.chunkCount(plain)
        key = keys.objectKey(relativePath)
    }

    func read(at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) throws {
        guard count > 0 else { return }
        guard offset >= 0, offset + Int64(count) <= size else {
            throw StorageError.shortRead(name, location: describe, offset: offset, wanted: count, size: size)
        }
        let chunk = Int64(SealedObject.chunkBytes)
        let first = offset / chunk
        let last = (offset + Int64(count) - 1) / chunk
        if let kept, kept.index == first, first == last {
            kept.bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + Int(offset - first * chunk), byteCount: count) }
            return
        }
        let start = SealedObject.chunkOffset(first)
        let end = min(inner.size, SealedObject.chunkOffset(last + 1))
        let stored = try inner.read(at: start, count: Int(end - start))
        var done = 0
        try stored.withUnsafeBytes { all in
            for index in first...last {
                let from = Int(SealedObject.chunkOffset(index) - start)
                let to = min(all.count, from + SealedObject.sealedChunkBytes)
                let plain = try SealedObject.openChunk(
                    UnsafeRawBufferPointer(rebasing: all[from..<to]), key: key, relativePath: relativePath, index: index,
                    final: index == chunks - 1, describe: describe)
                let skip = index == first ? Int(offset - first * chunk) : 0
                let take = min(count - done, plain.count - skip)
                plain.withUnsafeBytes { (destination + done).copyMemory(from: $0.baseAddress! + skip, byteCount: take) }
                done += take
                if index == last { kept = (index, plain) }
            }
        }
    }
}
