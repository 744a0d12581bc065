import Crypto
import Foundation
import Synchronization
import VeloFormat

/// Reads ranges of a sealed object (`SealedObject`) through `fetch` (a range of the stored bytes): each read
/// fetches the chunks it touches, at most `windowChunks` at a time, and authenticates every one of them before a
/// byte is copied out. The last chunk opened is kept, so a reader that reads in small steps (an archive's tar
/// blocks, the frames of a pack in order) opens each chunk once. Used for stored objects (`SealedObjectReader`) and
/// for a sealed export file.
package final class SealedRanges {
    /// The most chunks one fetch reads (about 1 MiB): a frame of many MiB is read window by window, so the memory a
    /// reader holds does not grow with the frames it reads.
    package static let windowChunks = 16
    /// The plain size.
    package let size: Int64
    private let storedSize: Int64
    private let key: SymmetricKey
    private let relativePath: String
    private let describe: String
    private let chunks: Int64
    private let fetch: (_ offset: Int64, _ count: Int, _ into: UnsafeMutableRawPointer) throws -> Void
    private var kept: (index: Int64, bytes: Data)?
    /// Where sealed chunks are fetched to, borrowed on the first read that needs one and given back when the
    /// reader goes (a pack's reader is opened again and again as a restore moves between packs).
    private var window: SealedReadWindow?

    /// - Throws: `VeloError` (`.damaged`) when `storedSize` is not one a sealed object can have.
    package init(
        storedSize: Int64, keys: RepositoryKeys, relativePath: String, describe: String,
        fetch: @escaping (_ offset: Int64, _ count: Int, _ into: UnsafeMutableRawPointer) throws -> Void
    ) throws {
        guard let plain = SealedObject.plaintextSize(storedSize) else {
            throw SealedObject.damage(describe, "its size (\(storedSize) bytes) is not one a sealed object can have (cut short)")
        }
        size = plain
        self.storedSize = storedSize
        chunks = SealedObject.chunkCount(plain)
        key = keys.objectKey(relativePath)
        self.relativePath = relativePath
        self.describe = describe
        self.fetch = fetch
    }

    deinit {
        if let window { SealedReadWindow.giveBack(window) }
    }

    /// Reads exactly `count` bytes at `offset` (which must lie within `size`).
    package func read(at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) throws {
        guard count > 0 else { return }
        let chunk = Int64(SealedObject.chunkBytes)
        let first = offset / chunk
        let last = (offset + Int64(count) - 1) / chunk
        var done = 0
        var next = first
        // A read that starts in the chunk kept from the last one (the next frame of a pack, read in order) takes
        // that chunk's bytes without opening it again.
        if let kept, kept.index == first {
            let skip = Int(offset - first * chunk)
            let take = min(count, kept.bytes.count - skip)
            kept.bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + skip, byteCount: take) }
            done = take
            next = first + 1
        }
        guard next <= last else { return }
        let window = self.window ?? SealedReadWindow.borrow()
        self.window = window
        while next <= last {
            let upTo = min(last, next + Int64(Self.windowChunks) - 1)
            // From the object's start when the first chunk is read, so that its magic is checked in the same read.
            let start = next == 0 ? 0 : SealedObject.chunkOffset(next)
            let end = min(storedSize, SealedObject.chunkOffset(upTo + 1))
            let length = Int(end - start)
            try fetch(start, length, window.bytes.baseAddress!)
            let fetched = UnsafeRawBufferPointer(rebasing: window.bytes[0..<length])
            if next == 0 && !fetched.starts(with: SealedObject.magic) {
                throw SealedObject.damage(
                    describe, "it does not start with \(String(decoding: SealedObject.magic, as: UTF8.self)) (not an encrypted object)")
            }
            for index in next...upTo {
                let from = Int(SealedObject.chunkOffset(index) - start)
                let to = min(length, from + SealedObject.sealedChunkBytes)
                let plain = try SealedObject.openChunkData(
                    UnsafeRawBufferPointer(rebasing: fetched[from..<to]), key: key, relativePath: relativePath, index: index,
                    final: index == chunks - 1, describe: describe)
                let skip = index == first ? Int(offset - first * chunk) : 0
                let take = min(count - done, plain.count - skip)
                plain.withUnsafeBytes { (destination + done).copyMemory(from: $0.baseAddress! + skip, byteCount: take) }
                done += take
                if index == last { kept = (index, plain) }
            }
            next = upTo + 1
        }
    }
}

/// A buffer of `SealedRanges.windowChunks` sealed chunks (and the magic), kept in a small process-wide pool: readers
/// come and go (one per pack a restore moves to), and a new buffer each time would be an allocation and its page
/// faults for every one of them.
package final class SealedReadWindow: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
    /// Free windows kept for the next reader; more than this are freed (a process reads with a few threads).
    private static let keptFree = 8
    private static let free = Mutex<[SealedReadWindow]>([])

    private init() {
        bytes = .allocate(
            byteCount: SealedObject.magic.count + SealedRanges.windowChunks * SealedObject.sealedChunkBytes, alignment: 16)
    }

    deinit { bytes.deallocate() }

    static func borrow() -> SealedReadWindow { free.withLock { $0.popLast() } ?? SealedReadWindow() }

    static func giveBack(_ window: SealedReadWindow) {
        free.withLock { if $0.count < keptFree { $0.append(window) } }
    }
}

/// A stored object read sealed: `SealedRanges` over the storage's own reader.
final class SealedObjectReader: StoredObjectReader {
    let name: StoredName
    private let ranges: SealedRanges
    private let describe: String

    init(_ inner: any StoredObjectReader, keys: RepositoryKeys, describe: String) throws {
        name = inner.name
        self.describe = describe
        ranges = try SealedRanges(storedSize: inner.size, keys: keys, relativePath: inner.name.relativePath, describe: describe) {
            try inner.read(at: $0, count: $1, into: $2)
        }
    }

    var size: Int64 { ranges.size }

    func read(at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) throws {
        guard count > 0 else { return }
        guard offset >= 0, offset + Int64(count) <= size else {
            throw StorageError.shortRead(name, location: describe, offset: offset, wanted: count, size: size)
        }
        try ranges.read(at: offset, count: count, into: destination)
    }
}
