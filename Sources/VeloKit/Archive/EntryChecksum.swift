/// The checksum of the entry a caller is reading, as the manifest records it: a SHA-256 of the entry's bytes,
/// or, for a part of a version 3 snapshot, the reader's own `PartDigest` (the caller then hashes nothing). Also
/// counts the bytes read. Made right after `nextEntry`; its `hex` is valid once the entry is read to its end.
package struct EntryChecksum {
    private var plain: SHA256Digest?
    package private(set) var byteCount: Int64 = 0

    package init(_ reader: SegmentedArchiveReader) {
        plain = reader.checksumsCurrentPart ? nil : SHA256Digest()
    }

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        plain?.update(bytes)
        byteCount += Int64(bytes.count)
    }

    /// The checksum as 64 lowercase hex digits ("" for a part the reader did not read to its end).
    package func hex(_ reader: SegmentedArchiveReader) -> String {
        plain?.hex() ?? reader.partDigest ?? ""
    }
}
