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
    private let where_: String
    private let decompressor: ZstdDecompressor
    private var buffer = [UInt8](repeating: 0, count: 256 << 10)
    private var start = 0
    private var end = 0
    /// Bytes of the decompressed stream consumed so far.
    package private(set) var consumed: Int64 = 0

    package init(_ name: StoredName, storage: any RepositoryStorage) throws {
        self.name = name
        where_ = storage.describe(name)
        let object = try storage.open(name)
        var offset: Int64 = 0
        decompressor = try ZstdDecompressor { out in
            let n = Int(min(Int64(out.count), object.size - offset))
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
            throw VeloError("\(where_): \(error)", kind: .damaged)
        }
    }

    /// Exactly `count` bytes, passed to `body` in pieces.
    package func read(_ count: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var remaining = count
        while remaining > 0 {
            guard try fill() else { throw VeloError("\(where_): ends \(remaining) bytes early", kind: .damaged) }
            let n = Int(min(Int64(end - start), remaining))
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) }
            start += n
            remaining -= Int64(n)
            consumed += Int64(n)
        }
    }

    /// Exactly `count` bytes, as an array (small reads: headers, one frame).
    package func bytes(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        try read(Int64(count)) { out.append(contentsOf: $0) }
        return out
    }

    /// True when nothing is left.
    package func atEnd() throws -> Bool { try !fill() }

    /// Reads a batch's header.
    /// - Throws: `.damaged` naming the object when it is not a batch of a format this velo reads.
    package func batchHeader() throws -> CaptureBatch {
        let prefix = try bytes(12)
        guard Array(prefix[0..<8]) == CaptureBatch.magic else {
            throw VeloError("\(where_): not a capture batch (no VELOCAP1 magic)", kind: .damaged)
        }
        let length = Int(prefix[8]) << 24 | Int(prefix[9]) << 16 | Int(prefix[10]) << 8 | Int(prefix[11])
        guard length <= CaptureObjects.maxHeaderBytes else {
            throw VeloError("\(where_): a header of \(length) bytes is more than any batch holds", kind: .damaged)
        }
        let json = try bytes(length)
        let batch: CaptureBatch
        do {
            batch = try JSONDecoder().decode(CaptureBatch.self, from: Data(json))
        } catch {
            throw VeloError("\(where_): the header is not a capture batch's (\(error))", kind: .damaged)
        }
        guard batch.format == CaptureBatch.formatVersion else {
            throw VeloError(
                "\(where_): capture format \(batch.format), this velo reads format \(CaptureBatch.formatVersion): upgrade velo",
                kind: .damaged)
        }
        guard batch.storedName == name else {
            throw VeloError("\(where_): its header names it \(batch.storedName.name)", kind: .damaged)
        }
        if let problem = batch.sources.lazy.compactMap(Self.problem).first {
            throw VeloError("\(where_): \(problem)", kind: .damaged)
        }
        return batch
    }

    /// What makes a section one velo never writes (a page size SQLite cannot have, frames out of order), which
    /// a reader must not follow: a hostile header would otherwise size buffers or place pages by it.
    static func problem(_ section: CapturedSource) -> String? {
        func pageSizeOK(_ size: Int) -> Bool { size >= 512 && size <= 65536 && size & (size - 1) == 0 }
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
