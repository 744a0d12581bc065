import Foundation

/// Cuts a stream of chunks into lines (without their `\n`), carrying a partial line from one chunk to the
/// next. The rows of an archive entry are read this way, whatever the chunk boundaries.
struct LineSplitter {
    private var carry: [UInt8] = []

    /// True when bytes after the last newline are waiting (at the end of an entry: a truncated last row).
    var hasPartialLine: Bool { !carry.isEmpty }

    mutating func reset() { carry.removeAll(keepingCapacity: true) }

    /// Calls `line` for each complete line in `chunk` (the buffer it gets is valid only during the call).
    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let n = chunk.count
        var start = 0
        while start < n {
            guard let newline = memchr(chunk.baseAddress! + start, 0x0A, n - start) else {
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<n]))
                return
            }
            let end = chunk.baseAddress!.distance(to: UnsafeRawPointer(newline))
            if carry.isEmpty {
                try line(UnsafeRawBufferPointer(rebasing: chunk[start..<end]))
            } else {
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<end]))
                try carry.withUnsafeBytes { try line($0) }
                carry.removeAll(keepingCapacity: true)
            }
            start = end + 1
        }
    }
}
