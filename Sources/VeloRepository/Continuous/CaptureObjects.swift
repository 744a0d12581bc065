import Foundation
import VeloFormat
import VeloStorage

/// Writes and reads the objects of continuous capture (`CaptureBatch`, base copies): streamed through zstd
/// either way, so memory holds one chunk, never a batch or a database.
package enum CaptureObjects {
    /// The largest batch header a reader accepts: a hostile object must not make it allocate gigabytes.
    static let maxHeaderBytes = 64 << 20

    /// Stores `batch` with its frames: `bodies` are files of zstd frames holding each source's frames, in the
    /// order of the sources whose `frames` is set, exactly as the header's offsets say (once decompressed). The
    /// header is compressed as a frame of its own and the bodies copied after it as they are: a zstd stream of
    /// several frames reads as the concatenation. Durable when it returns.
    package static func write(_ batch: CaptureBatch, bodies: [String], to storage: any RepositoryStorage) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = [UInt8](try encoder.encode(batch))
        let writer = try storage.create(batch.storedName)
        do {
            let compressor = try ZstdCompressor(level: 3, workers: 0) { try writer.write($0) }
            var prefix = CaptureBatch.magic
            let n = UInt32(header.count)
            prefix += [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
            try (prefix + header).withUnsafeBytes { try compressor.write($0) }
            try compressor.finish()
            for body in bodies { try copy(body, into: writer) }
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Stores `bytes` bytes read by `read` (fills a buffer from an offset, returns how many) as base object
    /// `name`, zstd-compressed; returns their SHA-256. Durable when it returns. `path` names the file in errors.
    package static func writeBase(
        _ path: String, bytes: Int64, as name: StoredName, to storage: any RepositoryStorage,
        read: (UnsafeMutableRawBufferPointer, Int64) throws -> Int
    ) throws -> String {
        let writer = try storage.create(name)
        do {
            let compressor = try ZstdCompressor(level: 3, workers: 0) { try writer.write($0) }
            var hash = SHA256Digest()
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            var offset: Int64 = 0
            while offset < bytes {
                let want = Int(min(Int64(chunk.count), bytes - offset))
                let got = try chunk.withUnsafeMutableBytes { try read(UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), offset) }
                guard got > 0 else { break }
                try chunk.withUnsafeBytes { b in
                    let part = UnsafeRawBufferPointer(rebasing: b[0..<got])
                    hash.update(part)
                    try compressor.write(part)
                }
                offset += Int64(got)
            }
            guard offset == bytes else {
                throw VeloError("\(path): shrank while its base copy was taken (\(offset) of \(bytes) bytes)", kind: .io)
            }
            try compressor.finish()
            try writer.commit()
            return hash.hex()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Stores `pack`: a skippable frame with the length of the header's frame, the header's frame, then
    /// `bodies` (files of zstd frames) copied as they are, in the order of the ranges the header gives (each
    /// range's offset counts from the end of the header's frame). Durable when it returns.
    package static func write(_ pack: CapturePack, bodies: [String], to storage: any RepositoryStorage) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = [UInt8](try encoder.encode(pack))
        var header: [UInt8] = []
        let compressor = try ZstdCompressor(level: 3, workers: 0) { header.append(contentsOf: $0) }
        let n = UInt32(json.count)
        let prefix = CapturePack.magic + [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
        try (prefix + json).withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        var skippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 8, 0, 0, 0]
        for i in 0..<8 { skippable.append(UInt8(UInt64(header.count) >> (8 * UInt64(i)) & 0xFF)) }
        let writer = try storage.create(pack.storedName)
        do {
            try (skippable + header).withUnsafeBytes { try writer.write($0) }
            for body in bodies { try copy(body, into: writer) }
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Reads a pack's header; returns it and where its bodies start (the offset ranges count from).
    /// - Throws: `.damaged` naming the object when it is not a pack of a format this velo reads.
    package static func packHeader(_ name: StoredName, storage: any RepositoryStorage) throws -> (pack: CapturePack, bodies: Int64) {
        let place = storage.describe(name)
        let object = try storage.open(name)
        guard object.size >= 16 else { throw VeloError("\(place): too short for a capture pack", kind: .damaged) }
        var lead = [UInt8](repeating: 0, count: 16)
        try lead.withUnsafeMutableBytes { try object.read(at: 0, count: 16, into: $0.baseAddress!) }
        guard lead[0..<8] == [0x50, 0x2A, 0x4D, 0x18, 8, 0, 0, 0] else {
            throw VeloError("\(place): not a capture pack (no leading skippable frame)", kind: .damaged)
        }
        let length = (0..<8).reduce(Int64(0)) { $0 | Int64(lead[8 + $1]) << (8 * Int64($1)) }
        guard length > 0, length <= Int64(maxHeaderBytes), 16 + length <= object.size else {
            throw VeloError("\(place): a header frame of \(length) bytes does not fit the pack", kind: .damaged)
        }
        let reader = try CaptureObjectReader(name, object: object, place: place, range: 16..<(16 + length))
        let prefix = try reader.bytes(12)
        guard Array(prefix[0..<8]) == CapturePack.magic else {
            throw VeloError("\(place): not a capture pack (no VELOPAK1 magic)", kind: .damaged)
        }
        let size = Int(prefix[8]) << 24 | Int(prefix[9]) << 16 | Int(prefix[10]) << 8 | Int(prefix[11])
        guard size <= maxHeaderBytes else {
            throw VeloError("\(place): a header of \(size) bytes is more than any pack holds", kind: .damaged)
        }
        let pack: CapturePack
        do {
            pack = try JSONDecoder().decode(CapturePack.self, from: Data(try reader.bytes(size)))
        } catch let error as VeloError {
            throw error
        } catch {
            throw VeloError("\(place): the header is not a capture pack's (\(error))", kind: .damaged)
        }
        guard pack.format == CapturePack.formatVersion else {
            throw VeloError(
                "\(place): capture pack format \(pack.format), this velo reads format \(CapturePack.formatVersion): upgrade velo",
                kind: .damaged)
        }
        guard pack.storedName == name else { throw VeloError("\(place): its header names it \(pack.storedName.name)", kind: .damaged) }
        let bodies = 16 + length
        for source in pack.sources {
            if let problem = source.sections.lazy.compactMap(CaptureObjectReader.problem).first {
                throw VeloError("\(place): \(problem)", kind: .damaged)
            }
            let ranges = [source.body, source.image?.range].compactMap { $0 }
            guard ranges.allSatisfy({ $0.offset >= 0 && $0.bytes >= 0 && bodies + $0.offset + $0.bytes <= object.size }) else {
                throw VeloError("\(place): \(source.source): a body range outside the pack", kind: .damaged)
            }
            if let image = source.image, !CaptureObjectReader.pageSizeOK(image.pageSize) || image.count < 0 {
                throw VeloError("\(place): \(source.source): an image of \(image.count) pages of \(image.pageSize) bytes", kind: .damaged)
            }
        }
        return (pack, bodies)
    }

    private static func copy(_ path: String, into writer: any StoredObjectWriter) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VeloError.io(path, "open", errno: errno) }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while true {
            let got = try FileSystem.read(fd, into: &chunk, count: chunk.count, at: offset, path: path)
            if got == 0 { return }
            try chunk.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += Int64(got)
        }
    }
}

/// Reads one capture object front to back through zstd: a batch's header, then its frames; or a base copy.
package final class CaptureObjectReader {
    package let name: StoredName
    /// The object, as messages name it.
    package let place: String
    private let decompressor: ZstdDecompressor
    private var buffer = [UInt8](repeating: 0, count: 256 << 10)
    private var start = 0
    private var end = 0
    /// Bytes of the decompressed stream consumed so far.
    package private(set) var consumed: Int64 = 0

    package convenience init(_ name: StoredName, storage: any RepositoryStorage) throws {
        let object = try storage.open(name)
        try self.init(name, object: object, place: storage.describe(name), range: 0..<object.size)
    }

    /// Reads the zstd frames in `range` (compressed bytes) of a pack: one source's body or image.
    package convenience init(_ name: StoredName, storage: any RepositoryStorage, bodies: Int64, range: PackRange) throws {
        let object = try storage.open(name)
        let start = bodies + range.offset
        try self.init(name, object: object, place: storage.describe(name), range: start..<min(object.size, start + range.bytes))
    }

    init(_ name: StoredName, object: any StoredObjectReader, place: String, range: Range<Int64>) throws {
        self.name = name
        self.place = place
        var offset = range.lowerBound
        decompressor = try ZstdDecompressor { out in
            let n = Int(min(Int64(out.count), range.upperBound - offset))
            guard n > 0 else { return 0 }
            try object.read(at: offset, count: n, into: out.baseAddress!)
            offset += Int64(n)
            return n
        }
    }

    /// Refills the buffer; false at the end of the stream.
    private func fill() throws -> Bool {
        if start < end { return true }
        do {
            let n = try buffer.withUnsafeMutableBytes { try decompressor.read(into: $0) }
            start = 0
            end = n
            return n > 0
        } catch {
            throw VeloError("\(place): \(error)", kind: .damaged)
        }
    }

    /// Exactly `count` bytes, passed to `body` in pieces.
    package func read(_ count: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var remaining = count
        while remaining > 0 {
            guard try fill() else { throw VeloError("\(place): ends \(remaining) bytes early", kind: .damaged) }
            let n = Int(min(Int64(end - start), remaining))
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) }
            start += n
            remaining -= Int64(n)
            consumed += Int64(n)
        }
    }

    /// The next record (a frame, or an image's page): its page number, and in `record` (4 + the page size
    /// bytes) the record itself, the page from offset 4.
    package func record(into record: inout [UInt8]) throws -> UInt32 {
        var filled = 0
        try read(Int64(record.count)) { part in
            record.withUnsafeMutableBytes {
                $0.baseAddress!.advanced(by: filled).copyMemory(from: part.baseAddress!, byteCount: part.count)
            }
            filled += part.count
        }
        return UInt32(record[0]) << 24 | UInt32(record[1]) << 16 | UInt32(record[2]) << 8 | UInt32(record[3])
    }

    /// Exactly `count` bytes, as an array (small reads: headers, one frame).
    package func bytes(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        try read(Int64(count)) { out.append(contentsOf: $0) }
        return out
    }

    /// Counts what is read next from zero: a batch's frames' offsets count from the end of its header.
    package func resetConsumed() { consumed = 0 }

    /// True when nothing is left.
    package func atEnd() throws -> Bool { try !fill() }

    /// Reads a batch's header.
    /// - Throws: `.damaged` naming the object when it is not a batch of a format this velo reads.
    package func batchHeader() throws -> CaptureBatch {
        let prefix = try bytes(12)
        guard Array(prefix[0..<8]) == CaptureBatch.magic else {
            throw VeloError("\(place): not a capture batch (no VELOCAP1 magic)", kind: .damaged)
        }
        let length = Int(prefix[8]) << 24 | Int(prefix[9]) << 16 | Int(prefix[10]) << 8 | Int(prefix[11])
        guard length <= CaptureObjects.maxHeaderBytes else {
            throw VeloError("\(place): a header of \(length) bytes is more than any batch holds", kind: .damaged)
        }
        let json = try bytes(length)
        let batch: CaptureBatch
        do {
            batch = try JSONDecoder().decode(CaptureBatch.self, from: Data(json))
        } catch {
            throw VeloError("\(place): the header is not a capture batch's (\(error))", kind: .damaged)
        }
        guard batch.format == CaptureBatch.formatVersion else {
            throw VeloError(
                "\(place): capture format \(batch.format), this velo reads format \(CaptureBatch.formatVersion): upgrade velo",
                kind: .damaged)
        }
        guard batch.storedName == name else {
            throw VeloError("\(place): its header names it \(batch.storedName.name)", kind: .damaged)
        }
        if let problem = batch.sources.lazy.compactMap(Self.problem).first {
            throw VeloError("\(place): \(problem)", kind: .damaged)
        }
        return batch
    }

    /// What makes a section one velo never writes (a page size SQLite cannot have, frames out of order), which
    /// a reader must not follow: a hostile header would otherwise size buffers or place pages by it.
    static func pageSizeOK(_ size: Int) -> Bool { size >= 512 && size <= 65536 && size & (size - 1) == 0 }

    static func problem(_ section: CapturedSource) -> String? {
        if let base = section.base, !pageSizeOK(base.pageSize) || base.bytes < 0 {
            return "\(section.source): a base of page size \(base.pageSize) and \(base.bytes) bytes"
        }
        guard let frames = section.frames else { return nil }
        guard pageSizeOK(frames.pageSize), frames.first >= 1, frames.count >= 1, frames.offset >= 0 else {
            return "\(section.source): frames \(frames.first)+\(frames.count) of page size \(frames.pageSize) at \(frames.offset)"
        }
        var previous = frames.first - 1
        for commit in frames.commits {
            guard commit.frame > previous, commit.frame <= frames.last, commit.pages >= 1 else {
                return "\(section.source): a commit at frame \(commit.frame) outside frames \(frames.first)...\(frames.last)"
            }
            previous = commit.frame
        }
        return frames.commits.last?.frame == frames.last ? nil : "\(section.source): frames that do not end with a commit"
    }
}
