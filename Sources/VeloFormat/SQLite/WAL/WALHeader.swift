import Foundation

/// The 32-byte header of an SQLite write-ahead log (sqlite.org/fileformat2.html, "WAL File Format"): which
/// generation of the log the file holds (the salts and the checkpoint sequence change each time a writer starts
/// the log over) and the byte order of its checksums. Continuous capture reads the log itself, as Litestream
/// does, because the WAL is the only place a committed transaction's pages are visible to another process.
package struct WALHeader: Sendable, Equatable {
    /// The header's size, and the offset of the first frame.
    package static let size = 32
    /// A frame header's size; a frame is this plus one page.
    package static let frameHeaderSize = 24

    /// True when the checksums are computed over big-endian words (magic 0x377f0683).
    package var bigEndianChecksums: Bool
    package var pageSize: Int
    /// Incremented each time the log starts over.
    package var checkpointSequence: UInt32
    /// Salt-1 is incremented and salt-2 drawn at random each time the log starts over; every valid frame
    /// repeats both.
    package var salt1: UInt32
    package var salt2: UInt32
    /// The header's own checksum: where the cumulative checksum of the frames starts.
    package var checksum: WALChecksum

    /// The header at the start of `bytes` (32 bytes), or nil when they do not hold a valid one: no log yet, a log
    /// being started over, or another file. The checksum is checked, so a torn header is never taken for a log.
    package init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= WALHeader.size else { return nil }
        let magic = WALHeader.word(bytes, 0)
        guard magic & 0xFFFF_FFFE == 0x377F_0682 else { return nil }
        bigEndianChecksums = magic & 1 == 1
        guard WALHeader.word(bytes, 4) == 3_007_000 else { return nil }
        let size = Int(WALHeader.word(bytes, 8))
        guard size >= 512, size <= 65536, size & (size - 1) == 0 else { return nil }
        pageSize = size
        checkpointSequence = WALHeader.word(bytes, 12)
        salt1 = WALHeader.word(bytes, 16)
        salt2 = WALHeader.word(bytes, 20)
        let expected = WALChecksum(WALHeader.word(bytes, 24), WALHeader.word(bytes, 28))
        let computed = WALChecksum.zero.adding(UnsafeRawBufferPointer(rebasing: bytes[0..<24]), bigEndian: bigEndianChecksums)
        guard computed == expected else { return nil }
        checksum = expected
    }

    /// The big-endian 32-bit word at `offset` (every integer of the WAL's headers is big-endian).
    package static func word(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}

/// SQLite's WAL checksum: two 32-bit sums over pairs of words, carried from the header through every frame, so
/// a frame is valid only when every frame before it in the same generation is.
public struct WALChecksum: Sendable, Equatable, Codable {
    public var s1: UInt32
    public var s2: UInt32

    public init(_ s1: UInt32, _ s2: UInt32) {
        self.s1 = s1
        self.s2 = s2
    }

    package static let zero = WALChecksum(0, 0)

    /// The checksum carried on over `bytes` (a multiple of 8 bytes), the words read in the log's byte order.
    package func adding(_ bytes: UnsafeRawBufferPointer, bigEndian: Bool) -> WALChecksum {
        var a = s1
        var b = s2
        var i = 0
        let count = bytes.count & ~7
        while i < count {
            let x: UInt32
            let y: UInt32
            if bigEndian {
                x = WALHeader.word(bytes, i)
                y = WALHeader.word(bytes, i + 4)
            } else {
                x = bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian
                y = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
            }
            a = a &+ x &+ b
            b = b &+ y &+ a
            i += 8
        }
        return WALChecksum(a, b)
    }
}
