import Crypto
import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Stores a tenant's uploaded files in an incremental snapshot (format version 2) the way rows are stored: each
/// file's bytes are cut into segments of `SegmentFormat.maxSegmentBytes`, new segments go into packs
/// (`PackWriter`), and the files table's list names every segment in the order of the walk, one part per file
/// (`SegmentsDocument.files`). Readers rebuild each `files/…` entry from its segments, exactly as a full archive
/// holds it, and check it against the manifest's size and SHA-256.
///
/// What the newest earlier snapshot of the same source with files already holds is not stored again: a file with
/// the same path, size and modification time, modified at least `racyWindow` before that snapshot read it (git's
/// "racily clean" rule: a same-size rewrite in the same clock tick as that reading would keep its time), is
/// referenced without being read, as restic does with its parent snapshot; a changed file is read and each
/// segment whose size and keyed hash match the previous version's segment at the same place is referenced.
/// Memory does not grow with the size of files, nor with what the previous snapshot holds (its list is read in
/// step with the walk, both in walk order, and segments wait only for their frame to be written); it grows with
/// the number of files only by their manifest entries and parts (a few hundred bytes each, as the manifest).
struct FileSegmentWriter {
    let uploads: UploadedFiles
    let store: PieceStore
    let packs: PackWriter
    /// Prefixed to every segment before it is hashed (the repository's id, as for rows).
    let hashKey: [UInt8]
    /// The files table of the newest earlier snapshot of the source that holds files, if any.
    let previous: SegmentsDocument.Table?
    /// When that snapshot was taken (nanoseconds since the epoch): a file modified within `racyWindow` before it
    /// is read again even when its size and time are the ones it recorded.
    let previousTaken: Int64
    let progress: (any ProgressObserver)?
    static let racyWindow: Int64 = 2_000_000_000

    /// What storing the files produced: the files table, the manifest entries, the files deleted since the walk.
    struct Stored {
        var table: SegmentsDocument.Table
        var entries: [Manifest.Entry]
        var vanished: [String]
    }

    /// Stores `files` (from `uploads.walk()`, in its order) and writes the files table's list into `lists`
    /// (unless every file vanished: then the table has no parts and is not to be used).
    func write(_ files: [UploadedFiles.File], lists: SegmentListWrites) throws -> Stored {
        var old = try PreviousFiles(table: previous, store: store)
        var listing = PendingSegments()
        var keyed = Crypto.SHA256()
        keyed.update(data: hashKey)
        var parts: [SegmentsDocument.Part] = []
        var entries: [Manifest.Entry] = []
        var vanished: [String] = []
        var segments = 0
        var newSegments = 0
        var rawBytes: Int64 = 0
        var newRawBytes: Int64 = 0
        for (index, file) in files.enumerated() {
            try Interruption.check()
            let location = "\(uploads.disk.root)/\(file.relative)"
            guard let entryPath = ArchiveFormat.fileEntryPath(relative: file.relative) else {
                throw VeloError("\(location): a name velo cannot store safely")
            }
            let before = try old.advance(to: file.relative)
            guard let reader = try uploads.disk.open(file) else {
                // Deleted since the walk (a record removed after the database was read): nothing to keep.
                vanished.append(location)
                try old.skip(before)
                continue
            }
            let modified = reader.modified
            let size = reader.size
            let firstSegment = segments
            let part: SegmentsDocument.Part
            if let before, before.bytes == size, before.modified == modified, modified < previousTaken - Self.racyWindow {
                // Unchanged since the previous snapshot: its segments are this file's, unread.
                for _ in 0..<before.segments {
                    let (frame, segment) = try old.nextSegment(of: before)
                    listing.reuse(frame, offset: segment.offset, bytes: segment.bytes, key: Int64(segments), hash: segment.hash)
                    segments += 1
                    rawBytes += Int64(segment.bytes)
                    if listing.waiting >= 1024 { try listing.waitForOldest(packs) }
                }
                part = SegmentsDocument.Part(
                    path: entryPath, rows: 0, bytes: before.bytes, sha256: before.sha256,
                    segments: before.segments, modified: modified)
            } else {
                var digest = SHA256Digest()
                var previousLeft = before?.segments ?? 0
                let found = try reader.read(chunkBytes: SegmentFormat.maxSegmentBytes) { bytes in
                    digest.update(bytes)
                    var hasher = keyed
                    hasher.update(bufferPointer: bytes)
                    let hash = hasher.finalize().withUnsafeBytes {
                        SegmentList.words(UnsafeRawBufferPointer(rebasing: $0.prefix(SegmentFormat.segmentHashBytes)))
                    }
                    // The previous version's segment at the same place is reused when it holds the same bytes.
                    var reused = false
                    if previousLeft > 0, let before {
                        previousLeft -= 1
                        let (frame, segment) = try old.nextSegment(of: before)
                        if segment.bytes == bytes.count && segment.hash == hash {
                            listing.reuse(frame, offset: segment.offset, bytes: bytes.count, key: Int64(segments), hash: hash)
                            reused = true
                        }
                    }
                    if !reused {
                        let ticket = packs.currentTicket
                        let offset = packs.append(bytes)
                        listing.add(ticket: ticket, offset: offset, bytes: bytes.count, key: Int64(segments), hash: hash)
                        newSegments += 1
                        newRawBytes += Int64(bytes.count)
                        if packs.pendingBytes >= SegmentFormat.frameBytes {
                            _ = try packs.flushFrame()
                            listing.drain(packs)
                        }
                    }
                    segments += 1
                    rawBytes += Int64(bytes.count)
                    if listing.waiting >= 1024 { try listing.waitForOldest(packs) }
                }
                for _ in 0..<previousLeft { _ = try old.nextSegment(of: before!) }
                // Gone before its first byte was read (an object read without a request first): nothing to keep.
                if !found && size > 0 {
                    vanished.append(location)
                    continue
                }
                part = SegmentsDocument.Part(
                    path: entryPath, rows: 0, bytes: size, sha256: digest.hex(),
                    segments: segments - firstSegment, modified: modified)
            }
            parts.append(part)
            entries.append(
                Manifest.Entry(
                    path: entryPath, bytes: part.bytes, sha256: part.sha256,
                    mode: reader.mode, modified: modified))
            progress?.update(index + 1, of: files.count, unit: "files", detail: file.relative)
        }
        _ = try packs.flushFrame()
        let list = try listing.finish(packs)
        let sha256 = store.storage.contentAddress(list)
        if !parts.isEmpty { try lists.submit(list, sha256: sha256) }
        let table = SegmentsDocument.Table(
            name: SegmentFormat.filesTable, list: sha256, segments: segments, newSegments: newSegments,
            rawBytes: rawBytes, newRawBytes: newRawBytes, parts: parts)
        return Stored(table: table, entries: entries, vanished: vanished)
    }
}

/// The previous snapshot's files, read in step with a new walk: its parts in walk order and its list's
/// segments, one file at a time. A list that cannot be read means nothing is reused (every file is stored anew).
private struct PreviousFiles {
    private var parts: ArraySlice<SegmentsDocument.Part>
    private var list: SegmentList?

    init(table: SegmentsDocument.Table?, store: PieceStore) throws {
        parts = (table?.parts ?? [])[...]
        guard let table else { return }
        do { list = try store.readList(table.list) } catch {
            Diagnostics.warn("uploaded files: the previous snapshot's list cannot be read (\(error)); storing every file anew")
            parts = []
        }
    }

    /// The previous part of the file at `relative`, or nil; parts of files before it in walk order are passed
    /// over (their segments skipped). The returned part's segments are next in the list.
    mutating func advance(to relative: String) throws -> SegmentsDocument.Part? {
        let wanted = UploadedFiles.walkKey(relative)
        while let first = parts.first {
            guard let path = ArchiveFormat.fileRelativePath(entry: first.path) else { try skip(first); continue }
            let key = UploadedFiles.walkKey(path)
            if key.lexicographicallyPrecedes(wanted) { try skip(first); continue }
            if key == wanted {
                parts.removeFirst()
                return first
            }
            return nil
        }
        return nil
    }

    /// Passes over a part's segments (the part must be the one `advance` returned, or the first one left).
    mutating func skip(_ part: SegmentsDocument.Part?) throws {
        guard let part else { return }
        if parts.first == part { parts.removeFirst() }
        for _ in 0..<part.segments { _ = try nextSegment(of: part) }
    }

    /// The next segment of `part`'s file, with its frame.
    mutating func nextSegment(of part: SegmentsDocument.Part) throws -> (SegmentList.Frame, SegmentList.Segment) {
        guard list != nil, let segment = try list!.next() else {
            throw VeloError("uploaded files: the previous snapshot's list ends before the segments of \(part.path)", kind: .damaged)
        }
        return (list!.frames[segment.frame], segment)
    }
}
