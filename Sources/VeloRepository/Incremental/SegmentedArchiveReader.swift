import Foundation
import VeloFormat
import VeloStorage

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
    /// Every part to rebuild, in entry order, with its table's index in `document.allTables`.
    private var parts: [(tableIndex: Int, table: SegmentsDocument.Table, part: SegmentsDocument.Part)] = []
    private var nextPart = 0
    private var current: PartReader?
    /// The index (in `document.allTables`) of the table whose list is open.
    private var listTable: Int?
    private var list: SegmentList?
    private var prefetcher: FramePrefetcher?
    /// The decompressed frames kept (`FrameCache` decides which), and the last one used (by its index in the
    /// current list: most segments are in the frame of the segment before them).
    private var frameCache = FrameCache(uses: [], sizes: [])
    private var cachedFrames: [Int: [UInt8]] = [:]
    private var lastFrameIndex = -1
    private var lastFrameBytes: [UInt8] = []
    /// Compressed bytes of the pack frames read (and checked) so far.
    package private(set) var frameBytesRead: Int64 = 0
    /// Parts already verified in this run (`velo verify` of several snapshots): `ArchiveAudit` does not read them again.
    package var verifiedParts: VerifiedParts?
    /// The current part's key in `verifiedParts` and its first segment's index in its list.
    private var partKey: String?
    private var segmentIndex = 0
    /// The archive's format version (known after the first entry).
    package private(set) var version = 1

    /// Where a version 2 archive's pieces are (asked only for one).
    private let pieces: () -> PieceStore?

    /// Reads the archive file at `path`; a version 2 archive's pieces are those of the repository folder above it.
    package convenience init(path: String) throws {
        try self.init(input: try ArchiveFileInput(path: path), pieces: { PieceStore.forArchive(path) })
    }

    /// Reads `input`; `pieces` gives a version 2 archive's pieces (nil: not in a repository).
    package init(input: any ArchiveInput, pieces: @escaping () -> PieceStore?) throws {
        path = input.description
        self.pieces = pieces
        reader = try ArchiveReader(input: input)
    }

    deinit { prefetcher?.stop() }

    /// The next entry's header, or nil at the end of the archive.
    package func nextEntry() throws -> ArchiveReader.EntryHeader? {
        let entry = try advance()
        logEntry = EntryReadLog.current == nil ? nil : entry.map { "\(path)#\($0.path)" }
        return entry
    }

    /// The entry whose first read `EntryReadLog.current` has not counted yet (nil when there is no log).
    private var logEntry: String?

    /// Counts the current entry's data as read once, when a log is installed.
    private func noteRead() {
        guard let entry = logEntry else { return }
        logEntry = nil
        EntryReadLog.current?.noteRead(entry)
    }

    private func advance() throws -> ArchiveReader.EntryHeader? {
        servingBuffered = false
        if !firstDone {
            firstDone = true
            guard let first = try reader.nextEntry() else { return nil }
            guard first.path == ArchiveFormat.headerPath, first.unsafeReason == nil, first.size <= Int64(ArchiveFormat.maxJSONEntryBytes)
            else { return first }
            let bytes = try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes)
            if let json = try? JSONParser.parse(bytes), json["version"]?.intValue == SegmentFormat.version {
                version = SegmentFormat.version
                guard let store = pieces() else {
                    throw ArchiveDamage(
                        path: path, entry: nil,
                        reason:
                            "an incremental snapshot (format version 2) is read from its repository, and no velo-repository.json is above it; use 'velo export' to make a full archive"
                    )
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
                throw ArchiveDamage(
                    path: path, entry: entry.path,
                    reason: "is \(entry.size) bytes, more than the \(ArchiveFormat.maxJSONEntryBytes >> 20) MiB this entry may have")
            }
            let document: SegmentsDocument
            do {
                document = try SegmentsDocument(json: try JSONParser.parse(try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes)))
            } catch let problem as FormatProblem {
                throw ArchiveDamage(path: path, entry: problem.entry, reason: problem.reason)
            } catch let damage as ArchiveDamage {
                throw damage
            } catch {
                throw ArchiveDamage(path: path, entry: entry.path, reason: "\(error)")
            }
            self.document = document
            for (index, table) in document.allTables.enumerated() { for part in table.parts { parts.append((index, table, part)) } }
            // A table without parts (an empty one) is never rebuilt, but its list is part of the snapshot all the
            // same: checked here, so that a missing or damaged one is damage of this snapshot, as FORMAT.md says.
            for table in document.allTables where table.parts.isEmpty { try checkPartlessList(table) }
            if parts.isEmpty { return try reader.nextEntry() }
            return try startPart()
        }
        return entry
    }

    /// Reads the list of a table that has no parts and checks it against `segments.json`.
    private func checkPartlessList(_ table: SegmentsDocument.Table) throws {
        let piece = SegmentFormat.listPath(table.list)
        let list: SegmentList
        do { list = try store!.readList(table.list, segments: table.segments) } catch {
            throw ArchiveDamage(path: path, entry: SegmentFormat.segmentsPath, reason: "table \(table.name): \(error)")
        }
        guard list.base == table.base, list.segmentCount == table.segments, !list.hasDeltaFrames || table.deltaFrames else {
            throw ArchiveDamage(
                path: path, entry: SegmentFormat.segmentsPath,
                reason:
                    "table \(table.name): piece \(piece) lists \(list.segmentCount) segments, \(SegmentFormat.segmentsPath) says \(table.segments)"
            )
        }
    }

    /// The segments document of a version 2 archive, once it was read.
    package private(set) var document: SegmentsDocument?
    private var partsLoaded = false

    private func startPart() throws -> ArchiveReader.EntryHeader {
        let (tableIndex, table, part) = parts[nextPart]
        nextPart += 1
        if listTable != tableIndex {
            prefetcher?.stop()
            prefetcher = nil
            do {
                list = try store!.readList(table.list, segments: table.segments)
                // A table's frames are its own: the cache starts empty, as the read-ahead order assumes.
                frameCache = try FrameCache(list: list!)
                cachedFrames.removeAll()
                lastFrameIndex = -1
                lastFrameBytes = []
                prefetcher = FramePrefetcher(storage: store!.storage, order: FramePrefetcher.order(of: list!, cache: frameCache))
            } catch {
                throw ArchiveDamage(path: path, entry: part.path, reason: "\(error)")
            }
            listTable = tableIndex
            guard list!.base == table.base else {
                throw ArchiveDamage(
                    path: path, entry: part.path,
                    reason:
                        "piece \(SegmentFormat.listPath(table.list)) is based on \(list!.base ?? "no list"), \(SegmentFormat.segmentsPath) says \(table.base ?? "none")"
                )
            }
            guard !list!.hasDeltaFrames || table.deltaFrames else {
                throw ArchiveDamage(
                    path: path, entry: part.path,
                    reason: "piece \(SegmentFormat.listPath(table.list)) has delta frames, \(SegmentFormat.segmentsPath) says it has none")
            }
            guard list!.segmentCount == table.segments else {
                throw ArchiveDamage(
                    path: path, entry: part.path,
                    reason:
                        "piece \(SegmentFormat.listPath(table.list)) lists \(list!.segmentCount) segments, \(SegmentFormat.segmentsPath) says \(table.segments)"
                )
            }
        } else if let skipped = current, skipped.segmentsLeft > 0 {
            // The previous part of this table was skipped or left unfinished: move the list past its segments.
            do {
                for _ in 0..<skipped.segmentsLeft where try list!.next() == nil {
                    throw VeloError("piece \(SegmentFormat.listPath(table.list)) ends before the part's segments", kind: .damaged)
                }
            } catch {
                throw ArchiveDamage(path: path, entry: part.path, reason: "piece \(SegmentFormat.listPath(table.list)): \(error)")
            }
        }
        if nextPart > 1 && parts[nextPart - 2].tableIndex == tableIndex {
            segmentIndex += parts[nextPart - 2].part.segments
        } else {
            segmentIndex = 0
        }
        partKey = "\(table.list):\(segmentIndex):\(part.segments):\(part.sha256):\(part.rows)"
        current = PartReader(part: part, list: table.list)
        return ArchiveReader.EntryHeader(path: part.path, size: part.bytes, kind: "file", linkTarget: nil)
    }

    /// The current part, when this run verified the same part already (its data need not be read again).
    package func partAlreadyVerified() -> SegmentsDocument.Part? {
        guard let current, current.delivered == 0, let partKey, verifiedParts?.contains(partKey) == true else { return nil }
        return current.part
    }

    /// The current part, when it falls outside this run's `--read-subset` (its data is not read).
    package func partOutsideSubset() -> SegmentsDocument.Part? {
        guard let current, current.delivered == 0, let subset = verifiedParts?.subset,
            !subset.includes(list: current.list, bytes: Int64(current.part.bytes))
        else { return nil }
        return current.part
    }

    /// Records that the current part was read whole and matched its SHA-256 and rows.
    package func markPartVerified(sha256: String, rows: Int) {
        guard let current, let partKey, current.part.sha256 == sha256, current.part.rows == rows, current.segmentsLeft == 0,
            current.peeked == nil, current.position == current.end, current.delivered == current.part.bytes
        else { return }
        verifiedParts?.insert(partKey)
    }

    /// Reads the current entry's data; 0 at its end.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if logEntry != nil { noteRead() }
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

    /// Where a part's reading is: the run of its frame being handed out.
    private struct PartReader {
        var part: SegmentsDocument.Part
        /// Segments of the part not yet taken from the list (a peeked one is taken).
        var segmentsLeft: Int
        /// The decompressed frame of the run, its index in the list, and the run's bytes still to hand out.
        var frame: [UInt8] = []
        var frameIndex = -1
        var position = 0
        var end = 0
        /// The segment after the run, taken from the list to see whether it continues the run.
        var peeked: SegmentList.Segment?
        var delivered: Int64 = 0
        /// Rows of the segments taken so far (each segment's count, from the list).
        var rows = 0
        var list: String

        init(part: SegmentsDocument.Part, list: String) {
            self.part = part
            self.list = list
            segmentsLeft = part.segments
        }
    }

    /// Hands the current entry's next bytes to `body` and returns how many (0 at the entry's end). A part of an
    /// incremental snapshot is handed straight out of its decompressed frame, a run of adjacent segments at a
    /// time (no copy); any other entry is read into `buffer` first.
    package func readChunk(into buffer: UnsafeMutableRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        if logEntry != nil { noteRead() }
        guard current != nil, !servingBuffered else {
            let n = try read(into: buffer)
            if n > 0 { try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            return n
        }
        guard let (frame, range) = try nextRun(limit: buffer.count) else { return 0 }
        try frame.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        return range.count
    }

    /// Copies the part's next bytes into `buffer`, run after run; 0 at the part's end.
    private func readPart(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count, let (frame, range) = try nextRun(limit: buffer.count - filled) {
            frame.withUnsafeBytes {
                (buffer.baseAddress! + filled).copyMemory(from: $0.baseAddress! + range.lowerBound, byteCount: range.count)
            }
            filled += range.count
        }
        return filled
    }

    /// The part's next bytes, at most `limit` of them, as a range of a decompressed frame: the rest of the
    /// current segment and the segments after it that lie right behind it in the same frame (a table's new
    /// segments are packed in order, so runs are usually long). nil at the part's end.
    private func nextRun(limit: Int) throws -> (frame: [UInt8], range: Range<Int>)? {
        var state = current!
        defer { current = state }
        if state.position == state.end {
            guard let segment = try takeSegment(&state) else {
                if state.delivered != state.part.bytes {
                    throw ArchiveDamage(
                        path: path, entry: state.part.path,
                        reason: "its segments hold \(state.delivered) bytes, \(SegmentFormat.segmentsPath) says \(state.part.bytes)")
                }
                // The same verdict whether or not another snapshot's check of the part is trusted (`verify --all`).
                if state.rows != state.part.rows {
                    throw ArchiveDamage(
                        path: path, entry: state.part.path,
                        reason: "its segments hold \(state.rows) rows, \(SegmentFormat.segmentsPath) says \(state.part.rows)")
                }
                return nil
            }
            if segment.frame != state.frameIndex {
                state.frame = try frameBytes(index: segment.frame, part: state.part)
                state.frameIndex = segment.frame
            }
            guard segment.offset + segment.bytes <= state.frame.count else {
                throw ArchiveDamage(
                    path: path, entry: state.part.path,
                    reason: "piece \(SegmentFormat.listPath(state.list)) places a segment past the end of its frame")
            }
            state.position = segment.offset
            state.end = segment.offset + segment.bytes
            state.rows += segment.rows
        }
        while state.end - state.position < limit, let next = try peekSegment(&state), next.frame == state.frameIndex,
            next.offset == state.end
        {
            guard state.end + next.bytes <= state.frame.count else {
                throw ArchiveDamage(
                    path: path, entry: state.part.path,
                    reason: "piece \(SegmentFormat.listPath(state.list)) places a segment past the end of its frame")
            }
            state.peeked = nil
            state.end += next.bytes
            state.rows += next.rows
        }
        let n = min(limit, state.end - state.position)
        let range = state.position..<state.position + n
        state.position += n
        state.delivered += Int64(n)
        if state.delivered > state.part.bytes {
            throw ArchiveDamage(
                path: path, entry: state.part.path,
                reason: "its segments hold more than the \(state.part.bytes) bytes \(SegmentFormat.segmentsPath) says")
        }
        return (state.frame, range)
    }

    /// The part's next segment (the peeked one first); nil once the part's segments are all taken.
    private func takeSegment(_ state: inout PartReader) throws -> SegmentList.Segment? {
        if let peeked = state.peeked {
            state.peeked = nil
            return peeked
        }
        return try listSegment(&state)
    }

    /// The part's next segment, kept as `peeked` for the next `takeSegment`.
    private func peekSegment(_ state: inout PartReader) throws -> SegmentList.Segment? {
        if state.peeked == nil { state.peeked = try listSegment(&state) }
        return state.peeked
    }

    private func listSegment(_ state: inout PartReader) throws -> SegmentList.Segment? {
        guard state.segmentsLeft > 0 else { return nil }
        do {
            guard let next = try list!.next() else {
                throw ArchiveDamage(
                    path: path, entry: state.part.path,
                    reason: "piece \(SegmentFormat.listPath(state.list)) ends before the part's segments")
            }
            state.segmentsLeft -= 1
            return next
        } catch let damage as ArchiveDamage {
            throw damage
        } catch {
            throw ArchiveDamage(path: path, entry: state.part.path, reason: "\(error)")
        }
    }

    /// The decompressed frame at `index` of the current list: the one just used, a cached one, one read ahead,
    /// or read now (its SHA-256 checked by the store).
    private func frameBytes(index: Int, part: SegmentsDocument.Part) throws -> [UInt8] {
        if index == lastFrameIndex { return lastFrameBytes }  // a new part may start in the frame the last one ended in
        let frame = list!.frames[index]
        let bytes: [UInt8]
        let (hit, keep, evicted) = frameCache.use(index)
        for old in evicted { cachedFrames[old] = nil }
        if hit, let cached = cachedFrames[index] {
            bytes = cached
        } else {
            do { bytes = try prefetcher?.take(frame) ?? store!.frame(frame) } catch let damage as ArchiveDamage {
                throw damage
            } catch {
                throw ArchiveDamage(path: path, entry: part.path, reason: "\(error)")
            }
            guard bytes.count == frame.rawBytes else {
                throw ArchiveDamage(
                    path: path, entry: part.path,
                    reason:
                        "piece \(SegmentFormat.packPath(frame.pack)), frame at byte \(frame.offset): \(bytes.count) bytes, its list says \(frame.rawBytes)"
                )
            }
            frameBytesRead += Int64(frame.length)
            if keep { cachedFrames[index] = bytes }
        }
        lastFrameIndex = index
        lastFrameBytes = bytes
        return bytes
    }
}
