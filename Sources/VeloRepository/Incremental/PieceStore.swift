import CZstd
import Crypto
import Foundation
import VeloFormat
import VeloStorage

/// The pieces of incremental snapshots in a repository: packs of zstd frames holding segments and segment
/// lists, read and written through the repository's storage (`RepositoryStorage`). Every piece is checked by
/// SHA-256 when it is read.
package final class PieceStore {
    package let storage: any RepositoryStorage
    /// Decompressed frames kept for the next segments, which are usually in the same frame.
    private var cache: [(key: FrameKey, bytes: [UInt8])] = []
    /// Decompressed bases of delta frames, kept apart from `cache` so that the delta frames read between two
    /// uses of a base do not push it out (a base usually serves the delta frames of a run of days).
    private var bases: [(key: FrameKey, bytes: [UInt8])] = []
    private var openPack: (name: String, reader: any StoredObjectReader)?
    private var lastPrefix: (bases: [SegmentList.Frame], bytes: [UInt8])?
    /// Compressed bases read by `appendFrame`.
    private let readBuffer = ByteBuffer(capacity: 0)
    /// Decompresses delta frames (made on the first one).
    private var deltaContext: OpaquePointer?
    /// Frames kept in `cache`, and bases in `bases`.
    private static let cachedFrames = 4

    private struct FrameKey: Equatable {
        var pack: String
        var offset: Int64
        var length: Int
        var rawBytes: Int
        var sha256: [UInt8]
    }

    /// Lists are read from the storage itself, never from this machine's cache of it (`velo verify`).
    private let readsStoredCopies: Bool
    /// A writer's sweep marker, written before the first piece this store writes (`SweepMarker`).
    package var sweepMarker: SweepMarker?

    package init(storage: any RepositoryStorage, readsStoredCopies: Bool = false) {
        self.storage = storage
        self.readsStoredCopies = readsStoredCopies
    }

    deinit {
        if let deltaContext { ZSTD_freeDCtx(deltaContext) }
    }

    /// The repository holding the archive at `archivePath` (the folder above it with `velo-repository.json`).
    package static func forArchive(_ archivePath: String) -> PieceStore? {
        var folder = (FileSystem.absolute(archivePath) as NSString).deletingLastPathComponent
        while folder != "/" && !folder.isEmpty {
            if Repository.exists(at: folder) {
                return PieceStore(storage: LocalStorage(root: folder))
            }
            folder = (folder as NSString).deletingLastPathComponent
        }
        return nil
    }

    /// Stores a segment list (full or patch) under its SHA-256, which the caller computed, unless it is there
    /// already; returns the bytes written. Uses nothing of the store but its storage, so it may run on a thread
    /// of its own (`SegmentListWrites`).
    /// On a storage billed by request (a bucket) the list is not looked for first: the conditional write that
    /// stores it refuses it when it is there, one request instead of two.
    package func writeList(_ bytes: [UInt8], sha256: String, level: Int32) throws -> Int64 {
        if storage.requests == nil, try hasList(sha256) { return 0 }
        try sweepMarker?.ensure()
        let compressed = try ZstdFrame.compress(bytes, level: level)
        return try storage.saveIfAbsent(.list(sha256), compressed) ? Int64(compressed.count) : 0
    }

    /// Whether the list piece `sha256` is stored (not whether it is sound).
    package func hasList(_ sha256: String) throws -> Bool { try storage.stat(.list(sha256)) != nil }

    /// Reads a segment list and checks it against its name; a patch (`SegmentListPatch`) is read with its base
    /// (checked the same way) and yields the merged segments.
    /// With `segments` (what `segments.json` says the list holds), the list is refused as soon as it decompresses
    /// past what that many segments can take (`SegmentFormat.maxListBytes`), and a patch's base past what the
    /// patch says its base holds: a list bomb costs a reader kilobytes, not the 256 MiB cap.
    /// - Throws: `VeloError` (`.damaged`) naming the piece when it (or its base) is missing, damaged or malformed.
    package func readList(_ sha256: String, segments: Int? = nil) throws -> SegmentList {
        let bytes = try listBytes(sha256, limit: segments.map(SegmentFormat.maxListBytes) ?? SegmentFormat.maxListCap)
        let relative = SegmentFormat.listPath(sha256)
        do {
            guard SegmentListPatch.isPatch(bytes) else { return try SegmentList(bytes: bytes, name: "piece \(relative)") }
            let patch = try SegmentListPatch(bytes: bytes, name: "piece \(relative)")
            let baseBytes: [UInt8]
            let baseLimit = segments == nil ? SegmentFormat.maxListCap : SegmentFormat.maxListBytes(segments: patch.baseSegments)
            do { baseBytes = try listBytes(patch.base, limit: baseLimit) } catch {
                throw VeloError("\(error) (the base of piece \(relative))", kind: .damaged)
            }
            guard !SegmentListPatch.isPatch(baseBytes) else {
                throw VeloError(
                    "piece \(relative): its base \(SegmentFormat.listPath(patch.base)) is a patch, not a full list", kind: .damaged)
            }
            return try SegmentList(
                base: try SegmentList(bytes: baseBytes, name: "piece \(SegmentFormat.listPath(patch.base))"), patch: patch)
        } catch let error as VeloError {
            throw error
        } catch {
            throw VeloError("\(error)", kind: .damaged)
        }
    }

    /// The uncompressed bytes of the list piece `name` (full or patch), checked against its name: what a copy into a
    /// repository that names lists with other keys stores under a new name.
    package func listPiece(_ name: String) throws -> [UInt8] { try listBytes(name, limit: SegmentFormat.maxListCap) }

    /// The uncompressed bytes of a list piece (full or patch), checked against its name.
    private func listBytes(_ sha256: String, limit: Int) throws -> [UInt8] {
        let relative = SegmentFormat.listPath(sha256)
        let stored: [UInt8]
        do {
            stored = try readsStoredCopies ? storage.loadStored(.list(sha256)) : storage.load(.list(sha256))
        } catch is StorageError {
            throw VeloError("piece \(relative) is missing", kind: .damaged)
        }
        let bytes: [UInt8]
        do {
            bytes = try ZstdFrame.decompress(stored, limit: limit)
        } catch {
            throw VeloError("piece \(relative) is damaged (\(error))", kind: .damaged)
        }
        guard storage.contentAddress(bytes) == sha256 else {
            throw VeloError(
                "piece \(relative): \(storage.keys == nil ? "SHA-256" : "content address") mismatch (the piece is damaged)", kind: .damaged)
        }
        return bytes
    }

    /// The decompressed bytes of one frame, checked against the SHA-256 its list records; a delta frame is
    /// decompressed with its bases (each read and checked the same way) as its prefix.
    /// - Throws: `VeloError` (`.damaged`) naming the pack and the frame's offset (and, for a base, whose base it is).
    package func frame(_ frame: SegmentList.Frame) throws -> [UInt8] {
        let key = FrameKey(pack: frame.pack, offset: frame.offset, length: frame.length, rawBytes: frame.rawBytes, sha256: frame.sha256)
        if let hit = cache.firstIndex(where: { $0.key == key }) { return cache[hit].bytes }
        let raw = try decompressed(frame)
        cache.append((key, raw))
        if cache.count > Self.cachedFrames { cache.removeFirst() }
        return raw
    }

    /// Appends the decompressed bytes of `frame` (a frame without bases) to `out`, checked as `frame(_:)` checks
    /// them, without keeping them: how a backup's threads read the bases they compress new frames against.
    func appendFrame(_ frame: SegmentList.Frame, to out: ByteBuffer) throws {
        let relative = SegmentFormat.packPath(frame.pack)
        let where_ = "piece \(relative), frame at byte \(frame.offset)"
        guard frame.bases.isEmpty else {
            throw VeloError("\(where_): a delta frame, where a frame without bases was expected", kind: .damaged)
        }
        // Read into a buffer kept for the next base: a backup's threads read one base after another.
        readBuffer.removeAll()
        readBuffer.reserve(frame.length)
        try read(frame, relative: relative, where_: where_, into: readBuffer.base)
        readBuffer.truncateForward(by: frame.length)
        try check(readBuffer.bytes, of: frame, where_: where_)
        do { try ZstdFrame.decompress(readBuffer.bytes, rawBytes: frame.rawBytes, appendingTo: out) } catch {
            throw VeloError("\(where_): \(error)", kind: .damaged)
        }
    }

    /// A base of a delta frame, from `bases` (least recently used out first) or read as `frame(_:)` reads.
    private func base(_ frame: SegmentList.Frame) throws -> [UInt8] {
        let key = FrameKey(pack: frame.pack, offset: frame.offset, length: frame.length, rawBytes: frame.rawBytes, sha256: frame.sha256)
        if let hit = bases.firstIndex(where: { $0.key == key }) {
            let entry = bases.remove(at: hit)
            bases.append(entry)
            return entry.bytes
        }
        let raw = try cache.first(where: { $0.key == key })?.bytes ?? decompressed(frame)
        bases.append((key, raw))
        if bases.count > Self.cachedFrames { bases.removeFirst() }
        return raw
    }

    /// Reads, checks and decompresses a frame (a delta frame with its bases).
    private func decompressed(_ frame: SegmentList.Frame) throws -> [UInt8] {
        let relative = SegmentFormat.packPath(frame.pack)
        let where_ = "piece \(relative), frame at byte \(frame.offset)"
        let compressed = try compressedBytes(of: frame, relative: relative, where_: where_)
        try compressed.withUnsafeBytes { try check($0, of: frame, where_: where_) }
        let raw: [UInt8]
        if frame.bases.isEmpty {
            do { raw = try ZstdFrame.decompress(compressed, rawBytes: frame.rawBytes) } catch {
                throw VeloError("\(where_): \(error)", kind: .damaged)
            }
        } else {
            let prefix = try prefix(of: frame, where_: where_, relative: relative)
            if deltaContext == nil { deltaContext = ZSTD_createDCtx() }
            guard let context = deltaContext else { throw VeloError("zstd: cannot allocate a decompression context") }
            do {
                raw = try prefix.withUnsafeBytes {
                    try ZstdFrame.decompress(compressed, rawBytes: frame.rawBytes, prefix: $0, context: context)
                }
            } catch {
                throw VeloError("\(where_): \(error)", kind: .damaged)
            }
        }
        return raw
    }

    /// A delta frame's prefix: its bases' bytes, in order (the last one made is kept: delta frames in a row
    /// usually share their bases, and joining several is a copy of megabytes).
    private func prefix(of frame: SegmentList.Frame, where_: String, relative: String) throws -> [UInt8] {
        if let last = lastPrefix, last.bases == frame.bases { return last.bytes }
        var prefix: [UInt8] = []
        for base in frame.bases {
            guard base.bases.isEmpty else {
                throw VeloError("\(where_): a base of this delta frame is a delta frame itself", kind: .damaged)
            }
            let bytes: [UInt8]
            do { bytes = try self.base(base) } catch {
                throw VeloError("\(error) (a base of the delta frame at byte \(frame.offset) of piece \(relative))", kind: .damaged)
            }
            if frame.bases.count == 1 { prefix = bytes } else { prefix += bytes }
        }
        lastPrefix = (frame.bases, prefix)
        return prefix
    }

    /// Checks a frame's compressed bytes against the SHA-256 its list records.
    private func check(_ compressed: UnsafeRawBufferPointer, of frame: SegmentList.Frame, where_: String) throws {
        guard Array(SHA256.hash(data: compressed)) == frame.sha256 else {
            throw VeloError("\(where_): SHA-256 mismatch (the piece is damaged)", kind: .damaged)
        }
    }

    /// A frame's compressed bytes, read from its pack (kept open for the next frame, usually in the same pack).
    private func compressedBytes(of frame: SegmentList.Frame, relative: String, where_: String) throws -> [UInt8] {
        guard frame.length > 0 else { throw VeloError("\(where_): an empty frame (the list is damaged)", kind: .damaged) }
        // Not zero-filled first: every byte is read or the array is dropped.
        return try [UInt8](unsafeUninitializedCapacity: frame.length) { buffer, count in
            try read(frame, relative: relative, where_: where_, into: UnsafeMutableRawPointer(buffer.baseAddress!))
            count = frame.length
        }
    }

    /// Reads a frame's `length` compressed bytes from its pack (kept open for the next frame) into `destination`.
    private func read(_ frame: SegmentList.Frame, relative: String, where_: String, into destination: UnsafeMutableRawPointer) throws {
        if openPack?.name != frame.pack {
            openPack = nil
            do { openPack = (frame.pack, try storage.open(.pack(frame.pack))) } catch StorageError.missing {
                throw VeloError("piece \(relative) is missing", kind: .damaged)
            } catch StorageError.invalidName {
                throw VeloError("\(where_): the list names no valid pack", kind: .damaged)
            }
        }
        do { try openPack!.reader.read(at: frame.offset, count: frame.length, into: destination) } catch is StorageError {
            throw VeloError("\(where_): the pack ends before the frame (truncated)", kind: .damaged)
        }
    }
}
