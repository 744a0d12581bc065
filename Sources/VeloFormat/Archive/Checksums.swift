import Crypto

/// Incremental SHA-256, written as lowercase hex: the checksum of every entry and every archive. `update` is
/// inlinable: the layers above call it per segment and per block.
package struct SHA256Digest {
    @usableFromInline var hasher = SHA256()
    @usableFromInline package private(set) var byteCount: Int64 = 0

    @inlinable package init() {}

    @inlinable package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        byteCount += Int64(bytes.count)
    }

    package mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest as 64 lowercase hex digits.
    package func hex() -> String {
        Self.hex(Array(hasher.finalize()))
    }

    /// SHA-256 of a byte array, as hex.
    package static func of(_ bytes: [UInt8]) -> String {
        var digest = SHA256Digest()
        digest.update(bytes)
        return digest.hex()
    }

    package static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
