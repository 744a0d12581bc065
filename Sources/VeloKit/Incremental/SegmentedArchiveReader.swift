import Foundation

/// The entries of a snapshot archive as every reader sees them, whatever its format version: for a version 1
/// archive its tar entries; for a version 2 (incremental) archive the same entries a full archive would hold,
/// its parts rebuilt from the segments in the repository (`segments.json` is read here and not handed on).
/// Each part is a run of whole segments; each frame read is checked against the SHA-256 its list records,
/// and the readers check each part's SHA-256 against the manifest as they do for a full archive.
package final class SegmentedArchiveReader: EntryReading {
    package let path: String
    private let reader: ArchiveReader
    /// An entry read ahead (the header, to learn the version), served from memory.
    private var buffered: (entry: ArchiveReader.EntryHeader, bytes: [UInt8], position: Int)?
    private var servingBuffered = false
    private var firstDone = false
    /// Set for a version 2 archive.
    private var store: PieceStore?
    private var parts: [(table: SegmentsDocument.Table, part: SegmentsDocument.Part)] = []
    private var nextPart = 0
    private var current: PartReader?
    private var listTable: String?
    private var list: SegmentList?
    private var prefetcher: FramePrefetcher?
    /// The frame the last segment was in (the next one usually is too).
    /// The decompressed frames kept (`FrameCache` decides which), and the frame in use.
    private var frameCache = FrameCache()
    private var cachedFrames: [SegmentList.Frame: [UInt8]] = [:]
    private var lastFrame: SegmentList.Frame?
    /// Compressed bytes of the pack frames read (and checked) so far.
    package private(set) var frameBytesRead: Int64 = 0
    /// Parts already verified in this run (`velo verify` of several snapshots): `ArchiveAudit` does not read them again.
    package var verifiedParts: VerifiedParts?
    /// The current part's key in `verifiedParts` and its first segment's index in its list.
    private var partKey: String?
    private var segmentIndex = 0
    /// The archive's format version (known after the first entry).
    package private(set) var version = 1

    package init(path: String) throws {
        self.path = path
        reader = try ArchiveReader(path: path)
    }

    deinit { prefetcher?.stop() }

    /// The next entry's header, or nil at the end of the archive.
    package func nextEntry() throws -> ArchiveReader.EntryHeader? {
        servingBuffered = false
        if !firstDone {
            firstDone = true
            guard let first = try reader.nextEntry() else { return nil }
            guard first.path == ArchiveFormat.headerPath, first.unsafeReason == nil, first.size <= Int64(ArchiveFormat.maxJSONEntryBytes) else { return first }
            let bytes = try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes)
            if let json = try? JSONParser.parse(bytes), json["version"]?.intValue == SegmentFormat.version {
                version = SegmentFormat.version
                guard let store = PieceStore.forArchive(path) else {
                    throw ArchiveDamage(path: path, entry: nil, reason: "an incremental snapshot (format version 2) is read from its repository, and no velo-repository.json is above it; use 'velo export' to make a full archive")
                }
                self.store = store
            }
            buffered = (first, bytes, 0)
            servingBuffered = true
            return first
        }
        if partsLoaded && nextPart < parts.count { return try startPart() }
        current = nil
        guard let entry = try reader.nextEntry() else { return nil }
        if store != nil, entry.path == SegmentFormat.segmentsPath, !partsLoaded {
            partsLoaded = true
            guard entry.size <= Int64(ArchiveFormat.maxJSONEntryBytes) else {
                throw ArchiveDamage(path: path, entry: entry.path, reason: "is \(entry.size) bytes, more than the \(ArchiveFormat.maxJSONEntryBytes >> 20) MiB this entry may have")
            }
            let document: SegmentsDocument
            do { document = try SegmentsDocument(json: try JSONParser.parse(try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes))) } catch let problem as FormatProblem {
                throw ArchiveDamage(path: path, entry: problem.entry, reason: problem.reason)
            } catch let damage as ArchiveDamage {
                throw damage
            } catch {
                throw ArchiveDamage(path: path, entry: entry.path, reason: "\(error)")
            }
            self.document = document
            for table in document.tables { for part in table.parts { parts.append((table, part)) } }
            if parts.isEmpty { return try reader.nextEntry() }
            return try startPart()
        }
        return entry
    }

    /// The segments document of a version 2 archive, once it was read.
    package private(set) var document: SegmentsDocument?
    private var partsLoaded = false

    private func startPart() throws -> ArchiveReader.EntryHeader {
        let (table, part) = parts[nextPart]
        nextPart += 1
        if listTable != table.name {
            prefetcher?.stop()
            prefetcher = nil
            do {
                list = try store!.readList(table.list)
                // A table's frames are its own: the cache starts empty, as the read-ahead order assumes.
                frameCache = FrameCache()
                cachedFrames.removeAll()
                lastFrame = nil
                prefetcher = FramePrefetcher(root: store!.root, order: try FramePrefetcher.order(of: list!, cache: frameCache))
            } catch {
                throw ArchiveDamage(path: path, entry: part.path, reason: "\(error)")
            }
            listTable = table.name
            guard list!.base == table.base else {
                throw ArchiveDamage(path: path, entry: part.path, reason: "piece \(SegmentFormat.listPath(table.list)) is based on \(list!.base ?? "no list"), \(SegmentFormat.segmentsPath) says \(table.base ?? "none")")
            }
            guard list!.segmentCount == table.segments else {
                throw ArchiveDamage(path: path, entry: part.path, reason: "piece \(SegmentFormat.listPath(table.list)) lists \(list!.segmentCount) segments, \(SegmentFormat.segmentsPath) says \(table.segments)")
            }
        } else if let skipped = current, skipped.segmentsLeft > 0 {
            // The previous part of this table was skipped or left unfinished: move the list past its segments.
            do { for _ in 0..<skipped.segmentsLeft { _ = try list!.next() } } catch {
                throw ArchiveDamage(path: path, entry: part.path, reason: "piece \(SegmentFormat.listPath(table.list)): \(error)")
            }
        }
        if listTable == table.name && nextPart > 1 && parts[nextPart - 2].table.name == table.name {
            segmentIndex += parts[nextPart - 2].part.segments
        } else {
            segmentIndex = 0
        }
        partKey = "\(table.list):\(segmentIndex):\(part.segments):\(part.sha256)"
        current = PartReader(part: part, list: table.list)
        return ArchiveReader.EntryHeader(path: part.path, size: part.bytes, kind: "file", linkTarget: nil)
    }

    /// The current part, when this run verified the same part already (its data need not be read again).
    package func partAlreadyVerified() -> SegmentsDocument.Part? {
        guard let current, current.delivered == 0, let partKey, verifiedParts?.contains(partKey) == true else { return nil }
        return current.part
    }

    /// Records that the current part was read whole and matched its SHA-256 and rows.
    package func markPartVerified(sha256: String, rows: Int) {
        guard let current, let partKey, current.part.sha256 == sha256, current.part.rows == rows, current.segmentsLeft == 0 else { return }
        verifiedParts?.insert(partKey)
    }

    /// Reads the current entry's data; 0 at its end.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if servingBuffered, var b = buffered {
            let n = min(buffer.count, b.bytes.count - b.position)
            b.bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + b.position, byteCount: n) }
            b.position += n
            buffered = b
            return n
        }
        if current != nil { return try readPart(into: buffer) }
        return try reader.read(into: buffer)
    }

    /// The entry being read, for messages.
    package var entryName: String? { nil }

    /// See `ArchiveReader.finishReading`; for a version 2 archive, parts not yet read are read (and dropped) first.
    package func finishReading() throws -> (bytes: Int64, sha256: String) {
        try reader.finishReading()
    }

    /// Where a part's reading is: the segment being copied out of its frame.
    private struct PartReader {
        var part: SegmentsDocument.Part
        var segmentsLeft: Int
        var frame: [UInt8] = []
        var position = 0
        var end = 0
        var delivered: Int64 = 0
        var list: String

        init(part: SegmentsDocument.Part, list: String) {
            self.part = part
            self.list = list
            segmentsLeft = part.segments
        }
    }

    /// Fills `buffer` with the part's bytes, segment after segment (one call may span many segments: readers
    /// handle fewer, larger chunks faster); 0 at the part's end.
    private func readPart(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var state = current!
        defer { current = state }
        var filled = 0
        while filled < buffer.count {
            if state.position == state.end {
                guard state.segmentsLeft > 0 else {
                    if filled == 0 && state.delivered != state.part.bytes {
                        throw ArchiveDamage(path: path, entry: state.part.path, reason: "its segments hold \(state.delivered) bytes, \(SegmentFormat.segmentsPath) says \(state.part.bytes)")
                    }
                    break
                }
                let segment: SegmentList.Segment
                do {
                    guard let next = try list!.next() else {
                        throw ArchiveDamage(path: path, entry: state.part.path, reason: "piece \(SegmentFormat.listPath(state.list)) ends before the part's segments")
                    }
                    segment = next
                    let frame = list!.frames[segment.frame]
                    if lastFrame == frame, let bytes = cachedFrames[frame] {
                        state.frame = bytes  // a new part may start in the frame the last one ended in
                    } else {
                        let (hit, evicted) = frameCache.use(frame)
                        for old in evicted { cachedFrames[old] = nil }
                        if hit, let bytes = cachedFrames[frame] {
                            state.frame = bytes
                        } else {
                            state.frame = try prefetcher?.take(frame) ?? store!.frame(frame)
                            frameBytesRead += Int64(frame.length)
                            cachedFrames[frame] = state.frame
                        }
                        lastFrame = frame
                    }
                } catch let damage as ArchiveDamage {
                    throw damage
                } catch {
                    throw ArchiveDamage(path: path, entry: state.part.path, reason: "\(error)")
                }
                state.position = segment.offset
                state.end = segment.offset + segment.bytes
                state.segmentsLeft -= 1
                continue
            }
            let n = min(buffer.count - filled, state.end - state.position)
            state.frame.withUnsafeBytes { (buffer.baseAddress! + filled).copyMemory(from: $0.baseAddress! + state.position, byteCount: n) }
            state.position += n
            state.delivered += Int64(n)
            filled += n
            if state.delivered > state.part.bytes {
                throw ArchiveDamage(path: path, entry: state.part.path, reason: "its segments hold more than the \(state.part.bytes) bytes \(SegmentFormat.segmentsPath) says")
            }
        }
        return filled
    }
}
