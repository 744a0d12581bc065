import Foundation

/// Cuts a stream of chunks into lines (without their `\n`), carrying a partial line from one chunk to the
/// next. The rows of an archive entry are read this way, whatever the chunk boundaries. A line longer than
/// `maxLine` is refused as soon as it is seen, so a row of an expansion bomb never grows past the limit.
/// `feed` is inlinable: the readers in the layers above call it per chunk with a closure per row, which only a
/// copy in their own module turns into a direct call.
package struct LineSplitter {
    /// A line past the limit, numbered from 1 within the entry.
    package struct LineTooLong: Error, CustomStringConvertible {
        package let line: Int
        @usableFromInline let limit: Int

        @inlinable init(line: Int, limit: Int) {
            self.line = line
            self.limit = limit
        }
        package var description: String { "row \(line) is longer than \(limit >> 20) MiB, the limit of a row of a velo archive" }
    }

    @usableFromInline var carry: [UInt8] = []
    @usableFromInline let maxLine: Int
    /// Lines passed to the callback since the last reset.
    @usableFromInline package internal(set) var lines = 0

    package init(maxLine: Int = ArchiveFormat.maxRowBytes) {
        self.maxLine = maxLine
    }

    /// True when bytes after the last newline are waiting (at the end of an entry: a truncated last row).
    package var hasPartialLine: Bool { !carry.isEmpty }

    package mutating func reset() {
        carry.removeAll(keepingCapacity: carry.capacity <= 1 << 20)
        lines = 0
    }

    /// Makes room for a carried line of `needed` bytes: past 1 MiB, room for the longest line at once (below it,
    /// appending grows the buffer as usual). Doubling would hold the old and the new buffer together while
    /// copying (8 and 16 MiB for a row near the limit), where this holds at most 1 MiB beside the final one.
    @inlinable mutating func reserve(_ needed: Int) {
        guard needed > carry.capacity else { return }
        if needed > 1 << 20 { carry.reserveCapacity(maxLine) }
    }

    /// Calls `line` for each complete line in `chunk` (the buffer it gets is valid only during the call).
    /// Throws `LineTooLong` for a line longer than the limit, or what `line` throws.
    @inlinable package mutating func feed(_ chunk: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) throws -> Void) throws {
        let n = chunk.count
        var start = 0
        while start < n {
            guard let newline = memchr(chunk.baseAddress! + start, 0x0A, n - start) else {
                guard carry.count + (n - start) <= maxLine else { throw LineTooLong(line: lines + 1, limit: maxLine) }
                reserve(carry.count + (n - start))
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<n]))
                return
            }
            let end = chunk.baseAddress!.distance(to: UnsafeRawPointer(newline))
            guard carry.count + (end - start) <= maxLine else { throw LineTooLong(line: lines + 1, limit: maxLine) }
            lines += 1
            if carry.isEmpty {
                try line(UnsafeRawBufferPointer(rebasing: chunk[start..<end]))
            } else {
                reserve(carry.count + (end - start))
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<end]))
                try carry.withUnsafeBytes { try line($0) }
                carry.removeAll(keepingCapacity: carry.capacity <= 1 << 20)
            }
            start = end + 1
        }
    }
}
