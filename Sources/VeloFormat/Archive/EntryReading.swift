/// A reader of an archive's current entry, in chunks: `ArchiveReader` (a tar.zst file) and
/// `SegmentedArchiveReader` (an incremental snapshot, whose parts are rebuilt from the repository's pieces).
package protocol EntryReading: AnyObject {
    /// The archive's file, for messages.
    var path: String { get }
    /// The entry being read, for messages (nil when not known).
    var entryName: String? { get }
    /// Reads up to `buffer.count` bytes of the current entry; 0 at its end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension EntryReading {
    /// Reads the whole current entry, refusing more than `limit` bytes (for small entries such as the manifest).
    package func readAll(limit: Int = 64 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
            if result.count > limit {
                throw ArchiveDamage(
                    path: path, entry: entryName, reason: "\(entryName == nil ? "an entry " : "")is larger than \(limit) bytes")
            }
        }
    }
}
