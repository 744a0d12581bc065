import Foundation
import VeloFormat

/// A source database exactly as of a position in its log, streamed in page order without a copy: the database
/// file (read through SQLite's own descriptor, under the pin) with the newest version of each page among the
/// log's frames up to the position written over it, cut at the size the position's last commit gave it.
///
/// Exact only while the pin holds a read transaction at or before the position: a checkpoint then copies no
/// later frame into the file, so every page the file holds is as of the position or older, and the log's frames
/// up to the position bring each older one up to date. A base velo makes while capture goes on is this stream,
/// stored; a graceful stop records its size and SHA-256 (`CaptureStop`).
enum DatabaseAsOf {
    /// Hands the database as of `position` to `body`, in order, in pieces of whole pages; returns its size, or nil
    /// when the log no longer holds `position`'s generation up to that frame (started over meanwhile: nothing
    /// streamed is then the database) or the frames do not end at a commit.
    static func stream(
        file: Database, wal: WALFile, position: WALPosition, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64? {
        let pageSize = Int64(position.pageSize)
        let fileBytes = try WALPin.fileSize(file)
        guard fileBytes % pageSize == 0 else { return nil }
        /// True while the log is still `position`'s generation (or, at its frame 0, there is no log).
        func logHolds() throws -> Bool {
            guard let header = try wal.header() else { return position.frames == 0 }
            return position.isGeneration(of: header)
        }
        guard try logHolds() else { return nil }
        // The newest frame of each page among the position's frames (at most the log's cap of them).
        var newest: [UInt32: Int] = [:]
        var size = fileBytes
        if position.frames > 0 {
            guard let header = try wal.header() else { return nil }
            let read = try wal.readFrames(after: WALPosition(start: header), maxFrames: position.frames) { frame in
                newest[frame.pageNumber] = frame.number
            }
            guard read.position == position, let last = read.commits.last else { return nil }
            size = Int64(last.pages) * pageSize
        }
        let log = newest.isEmpty ? -1 : open(wal.path, O_RDONLY | O_CLOEXEC)
        if !newest.isEmpty && log < 0 { return nil }
        defer { if log >= 0 { close(log) } }
        var page = [UInt8](repeating: 0, count: position.pageSize)
        func fromLog(_ frame: Int) throws {
            let at = position.offset(ofFrame: frame) + Int64(WALHeader.frameHeaderSize)
            guard try FileSystem.read(log, into: &page, count: page.count, at: at, path: wal.path) == page.count else {
                throw VeloError("\(wal.path): frame \(frame) ends early", kind: .damaged)
            }
            try page.withUnsafeBytes(body)
        }
        let fromFile = min(fileBytes, size)
        let read = try WALPin.readFile(file, bytes: fromFile) { chunk, offset in
            var unchanged = 0  // where the run of the file's own pages in this chunk starts
            var at = 0
            while at < chunk.count {
                if let frame = newest[UInt32((offset + Int64(at)) / pageSize) + 1] {
                    if unchanged < at { try body(UnsafeRawBufferPointer(rebasing: chunk[unchanged..<at])) }
                    try fromLog(frame)
                    unchanged = at + Int(pageSize)
                }
                at += Int(pageSize)
            }
            if unchanged < chunk.count { try body(UnsafeRawBufferPointer(rebasing: chunk[unchanged...])) }
        }
        guard read == fromFile else { return nil }
        // Pages past the file's end are only in the log.
        var next = fromFile
        while next < size {
            guard let frame = newest[UInt32(next / pageSize) + 1] else { return nil }
            try fromLog(frame)
            next += pageSize
        }
        // A log started over while the pages were read may have overwritten the frames read last: then nothing
        // streamed is known to be the database.
        return try logHolds() ? size : nil
    }
}
