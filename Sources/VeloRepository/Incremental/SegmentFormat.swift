import VeloFormat
import VeloStorage

/// Format version 2 of velo snapshots: incremental snapshots whose rows live once in the repository, in
/// content-defined segments packed into zstd frames (docs/FORMAT.md, "Format version 2"). A version 2 archive
/// holds the header, the schema, `segments.json` and the manifest; its parts are rebuilt from the repository.
package enum SegmentFormat {
    /// The `version` of an incremental snapshot's header and manifest.
    package static let version = 2
    /// The entry of a version 2 archive that says which segment lists rebuild each table's parts.
    package static let segmentsPath = "segments.json"
    /// The name `segments.json` gives the table of a snapshot's uploaded files (its `files` object, apart from
    /// the tables of rows, so no table of the database can take it).
    package static let filesTable = "files"
    /// Folder of pack files, `data/packs/<hh>/<sha256>.pack`.
    package static let packsFolder = StoredKind.packsFolder
    /// Folder of segment lists, `data/lists/<hh>/<sha256>.list`.
    package static let listsFolder = StoredKind.listsFolder
    /// Present while unreferenced pieces may exist (a backup writing, a prune sweeping): the next writer sweeps.
    package static let sweepMarker = StoredName.sweepMarker.relativePath

    /// Rows are grouped into segments of about this many encoded bytes. No boundary falls in a segment's first
    /// half of this; after it, a boundary falls after a row with a probability proportional to the row's size,
    /// decided by a hash of its rowid, so an update changes one segment and an insert or a delete moves at most
    /// a boundary or two. (Without the minimum, sizes are geometric and a scattered update lands in a large
    /// segment twice as often as the mean suggests.) Chosen by measurement (Benchmarks/incremental.sh).
    /// Measured on 100,000 posts, updating every 100th post added 5.15% of a full archive with 3 KiB, 4.26% with
    /// 2 KiB and 4.10% with 1.5 KiB (smaller segments mean longer lists, and a first backup 1% larger).
    package static let targetSegmentBytes = 2048
    /// No boundary before this many bytes.
    package static var minSegmentBytes: Int { targetSegmentBytes / 2 }
    /// A segment is closed at this size whatever the hash says (it still ends at a row).
    package static let maxSegmentBytes = 256 << 10
    /// New segments are compressed together in zstd frames of about this many bytes.
    package static let frameBytes = 1 << 20
    /// A new frame is compressed against the frames holding the old versions of its segments (`DeltaBases`)
    /// only when they decompress to at most this many bytes in all: a reader decompresses them too.
    /// 3 MiB: the two frames a run of new segments usually straddles, not three (a backup's threads hold them
    /// while compressing, and readers decompress them besides the frames they read).
    package static let maxDeltaBaseBytes = 3 << 20
    /// A pack file is closed after the frame that reaches this size.
    package static let packBytes = 16 << 20
    /// A frame never decompresses to more than this (a frame holds whole segments; a row is at most 16 MiB).
    package static let maxFrameBytes = 34 << 20
    /// The most any segment list may decompress to.
    package static let maxListCap = 256 << 20

    /// The most a list of `segments` segments can decompress to: a header, and per segment at most its entry
    /// (five varints and a 16-byte hash) and a frame with its pack and delta bases (generously 1 KiB in all).
    package static func maxListBytes(segments: Int) -> Int {
        min(maxListCap, 64 << 10 + max(0, segments) * 1024)
    }
    /// Bytes of a segment's SHA-256 kept in its list, to recognise an unchanged segment at the same last rowid
    /// with the same size (a false match needs a 2^-64 chance at that one place, and would still be caught by the
    /// manifest's part SHA-256s, computed from the rows read). 8 rather than 32 bytes: the list is most of what
    /// a snapshot with scattered changes adds besides the changed rows.
    package static let segmentHashBytes = 8

    /// `data/packs/ab/ab12….pack`.
    package static func packPath(_ sha256: String) -> String { StoredName.pack(sha256).relativePath }
    /// `data/lists/ab/ab12….list`.
    package static func listPath(_ sha256: String) -> String { StoredName.list(sha256).relativePath }

    /// Whether a segment of `segmentBytes` so far ends after a row of `rowBytes` bytes whose key hashes to
    /// `hash`: never before `minSegmentBytes`, then with probability rowBytes / (target − minimum), so segments
    /// hold about `targetSegmentBytes` whatever the rows' size.
    @inline(__always)
    package static func isBoundary(hash: UInt64, rowBytes: Int, segmentBytes: Int) -> Bool {
        segmentBytes >= minSegmentBytes
            && (hash >> 32) &* UInt64(targetSegmentBytes - minSegmentBytes) < UInt64(min(rowBytes, 1 << 24)) << 32
    }

    /// A well-mixed 64-bit hash of a rowid (splitmix64's finaliser).
    @inline(__always)
    package static func mix(_ key: Int64) -> UInt64 {
        var z = UInt64(bitPattern: key) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a of a row's bytes: the boundary hash of a table without rowid.
    package static func fnv(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return mix(Int64(bitPattern: h))
    }
}

/// LEB128 varints for the binary segment lists.
package enum Varint {
    package static func append(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    package static func appendSigned(_ value: Int64, to out: inout [UInt8]) {
        append(UInt64(bitPattern: (value << 1) ^ (value >> 63)), to: &out)
    }
}

/// Reads a binary segment list; every read is bounds-checked and throws on malformed bytes.
package struct ByteCursor {
    package let bytes: [UInt8]
    package var position = 0
    let name: String

    package init(_ bytes: [UInt8], name: String) {
        self.bytes = bytes
        self.name = name
    }

    package var atEnd: Bool { position >= bytes.count }

    struct Malformed: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name): malformed segment list" }
    }

    package mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count, shift < 64 else { throw Malformed(name: name) }
            let b = bytes[position]
            position += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    package mutating func int(max: Int = Int(Int32.max)) throws -> Int {
        let v = try varint()
        guard v <= UInt64(max) else { throw Malformed(name: name) }
        return Int(v)
    }

    package mutating func signed() throws -> Int64 {
        let v = try varint()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    package mutating func raw(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, position + count <= bytes.count else { throw Malformed(name: name) }
        defer { position += count }
        return bytes[position..<position + count]
    }
}
