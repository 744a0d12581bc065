import Crypto

/// The checksum of a part of a version 3 (incremental) snapshot, as its manifest records it: SHA-256 over the
/// 32-byte keyed SHA-256s of the part's segments, in order. The backup hashes each segment once, for its
/// identity in the segment list and for its part (version 2 hashed every byte a second time for the part); a
/// reader rebuilds the same digest from the segments it reads. `velo export` writes the parts' plain SHA-256s.
package struct PartDigest {
    private var tree = SHA256()
    package private(set) var byteCount: Int64 = 0
    package private(set) var segments = 0

    package init() {}

    /// A segment's keyed SHA-256: `SHA-256(key ‖ bytes)`, the key being the repository's id
    /// (`SegmentFormat.hashKey`). Its first `SegmentFormat.segmentHashBytes` bytes are the segment's list hash.
    package static func segment(_ bytes: UnsafeRawBufferPointer, key: [UInt8]) -> SHA256.Digest {
        var hasher = SHA256()
        hasher.update(data: key)
        hasher.update(bufferPointer: bytes)
        return hasher.finalize()
    }

    /// Adds the part's next segment, of `bytes` bytes, by its keyed SHA-256.
    package mutating func add(_ segment: SHA256.Digest, bytes: Int) {
        segment.withUnsafeBytes { tree.update(bufferPointer: $0) }
        byteCount += Int64(bytes)
        segments += 1
    }

    /// The digest as 64 lowercase hex digits.
    package func hex() -> String { SHA256Digest.hex(Array(tree.finalize())) }
}
