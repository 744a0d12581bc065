import Foundation

/// Where capture stands in a write-ahead log: the log's generation (checkpoint sequence and salts), the frames
/// of it already taken, and the cumulative checksum after the last of them, so the next read carries the chain on
/// from there and knows at once when the log was started over under it.
package struct WALPosition: Sendable, Equatable, Codable {
    package var checkpointSequence: UInt32
    package var salt1: UInt32
    package var salt2: UInt32
    package var pageSize: Int
    package var bigEndianChecksums: Bool
    /// Frames of this generation taken so far; the next one to read is `frames + 1` (frames count from 1).
    package var frames: Int
    /// The checksum after frame `frames` (the header's when none was taken).
    package var checksum: WALChecksum

    package init(
        checkpointSequence: UInt32, salt1: UInt32, salt2: UInt32, pageSize: Int, bigEndianChecksums: Bool, frames: Int,
        checksum: WALChecksum
    ) {
        self.checkpointSequence = checkpointSequence
        self.salt1 = salt1
        self.salt2 = salt2
        self.pageSize = pageSize
        self.bigEndianChecksums = bigEndianChecksums
        self.frames = frames
        self.checksum = checksum
    }

    /// The start of the generation `header` begins.
    package init(start header: WALHeader) {
        checkpointSequence = header.checkpointSequence
        salt1 = header.salt1
        salt2 = header.salt2
        pageSize = header.pageSize
        bigEndianChecksums = header.bigEndianChecksums
        frames = 0
        checksum = header.checksum
    }

    /// True when `header` is the header of this position's generation.
    package func isGeneration(of header: WALHeader) -> Bool {
        header.checkpointSequence == checkpointSequence && header.salt1 == salt1 && header.salt2 == salt2
            && header.pageSize == pageSize
    }

    /// True when `header` starts the generation right after this one: what a writer does when it starts the log
    /// over after a complete checkpoint. Salt-1 is one more (SQLite takes it from the shared WAL index), and the
    /// checkpoint sequence is not compared: SQLite writes the restarting connection's own counter there, which
    /// starts at 0 in each new connection, so an app opening a connection per request (PHP's) writes 1 again and
    /// again (SQLite's `walRestartHdr`, found by a test with one `sqlite3` process per write).
    package func isFollowed(by header: WALHeader) -> Bool {
        header.salt1 == salt1 &+ 1 && header.pageSize == pageSize
    }

    /// The byte offset of frame `number` (from 1) in the log.
    package func offset(ofFrame number: Int) -> Int64 {
        Int64(WALHeader.size) + Int64(number - 1) * Int64(WALHeader.frameHeaderSize + pageSize)
    }
}

/// One SQLite write-ahead log file, read from outside SQLite: its header, and its committed frames after a
/// position. The file is opened for each read (it may not exist yet, and SQLite may replace it) and never written.
package struct WALFile {
    /// The log's path: the database's path with `-wal`.
    package let path: String

    package init(database: String) { path = database + "-wal" }

    /// A frame of the log: the page it holds and, on a transaction's last frame, the database's size after it.
    package struct Frame {
        /// Its number in the generation, from 1.
        package var number: Int
        package var pageNumber: UInt32
        /// The database's size in pages after the transaction, on its commit frame; 0 on its other frames.
        package var commitPages: UInt32
        /// The page's bytes (valid only during the call that receives them).
        package var page: UnsafeRawBufferPointer
    }

    /// What a read of the log found.
    package struct Read {
        /// The position after the last commit frame read (the same as given when no transaction was complete).
        package var position: WALPosition
        /// The commit frames read: their numbers and the database's size in pages after each.
        package var commits: [(frame: Int, pages: UInt32)]
        /// Bytes of frames read past the last commit: a transaction still being written, read again next time.
        package var uncommittedFrames: Int
    }

    /// The log's header, or nil when there is no log or no valid header in it.
    package func header() throws -> WALHeader? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw VeloError.io(path, "open", errno: errno)
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: WALHeader.size)
        let n = try FileSystem.read(fd, into: &bytes, count: WALHeader.size, at: 0, path: path)
        guard n == WALHeader.size else { return nil }
        return bytes.withUnsafeBytes { WALHeader($0) }
    }

    /// Reads the frames after `position` of the same generation, in order, each checked (salts and the
    /// cumulative checksum), until the log ends or a frame fails the check (not yet written, torn, or from an
    /// earlier generation). Every frame read is passed to `frame`, and the caller keeps only those up to the last
    /// commit (`Read.position.frames`): frames after it belong to a transaction still open, or rolled back.
    /// - Throws: `.io` naming the log when a read fails; whatever `frame` throws.
    package func readFrames(after position: WALPosition, maxFrames: Int = .max, _ frame: (Frame) throws -> Void) throws -> Read {
        var read = Read(position: position, commits: [], uncommittedFrames: 0)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return read }
            throw VeloError.io(path, "open", errno: errno)
        }
        defer { close(fd) }
        let frameSize = WALHeader.frameHeaderSize + position.pageSize
        var buffer = [UInt8](repeating: 0, count: frameSize)
        var checksum = position.checksum
        var number = position.frames + 1
        while number - position.frames <= maxFrames {
            let n = try FileSystem.read(fd, into: &buffer, count: frameSize, at: position.offset(ofFrame: number), path: path)
            guard n == frameSize else { break }
            let valid: Bool = try buffer.withUnsafeBytes { bytes in
                guard WALHeader.word(bytes, 8) == position.salt1, WALHeader.word(bytes, 12) == position.salt2 else { return false }
                var sum = checksum.adding(UnsafeRawBufferPointer(rebasing: bytes[0..<8]), bigEndian: position.bigEndianChecksums)
                sum = sum.adding(
                    UnsafeRawBufferPointer(rebasing: bytes[WALHeader.frameHeaderSize...]), bigEndian: position.bigEndianChecksums)
                guard sum == WALChecksum(WALHeader.word(bytes, 16), WALHeader.word(bytes, 20)) else { return false }
                checksum = sum
                let commitPages = WALHeader.word(bytes, 4)
                try frame(
                    Frame(
                        number: number, pageNumber: WALHeader.word(bytes, 0), commitPages: commitPages,
                        page: UnsafeRawBufferPointer(rebasing: bytes[WALHeader.frameHeaderSize...])))
                if commitPages != 0 {
                    read.commits.append((number, commitPages))
                    read.position.frames = number
                    read.position.checksum = sum
                }
                return true
            }
            guard valid else { break }
            number += 1
        }
        read.uncommittedFrames = number - 1 - read.position.frames
        return read
    }
}
