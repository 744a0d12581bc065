import Crypto
import Foundation
import VeloFormat

/// The layout of every object an encrypted repository stores (but its identity and key files): an 8-byte magic
/// `VELOSEA1`, then the object's bytes cut into chunks of 64 KiB (the last one shorter, and an empty object one
/// empty chunk), each sealed with AES-256-GCM on its own:
///
///     "VELOSEA1" ‖ chunk 0 ‖ chunk 1 ‖ … ‖ chunk n-1
///     chunk i  = nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)
///     key      = HKDF-SHA256(data key, info: "velo-object-v1" ‖ 0x00 ‖ relative path)
///     AD       = relative path ‖ 0x00 ‖ i (8 bytes, big-endian) ‖ final (1 byte: 1 for chunk n-1, else 0)
///
/// Chunks make ranged reads possible (a frame in the middle of a pack is read and authenticated without the rest),
/// at 28 bytes a chunk (0.04%). The associated data binds each chunk to its object's name, its place and whether it
/// is the last: a flipped bit, chunks reordered, an object truncated at a chunk's end (its new last chunk was not
/// sealed as final) or moved to another name all fail authentication, and are reported as damage naming the
/// object, never decrypted into wrong bytes. The sizes follow from the stored size alone (`plaintextSize`), so
/// listing and stat need no read.
package enum SealedObject {
    package static let magic: [UInt8] = Array("VELOSEA1".utf8)
    package static let chunkBytes = 65536
    package static let nonceBytes = 12
    package static let tagBytes = 16
    package static let overhead = nonceBytes + tagBytes
    /// A sealed chunk of `chunkBytes`.
    package static let sealedChunkBytes = chunkBytes + overhead

    /// The size of the object a stored object of `stored` bytes holds, nil when no sealed object has that size.
    package static func plaintextSize(_ stored: Int64) -> Int64? {
        let body = stored - Int64(magic.count)
        guard body >= Int64(overhead) else { return nil }
        let sealed = Int64(sealedChunkBytes)
        let chunks = (body + sealed - 1) / sealed
        let last = body - (chunks - 1) * sealed
        guard last >= Int64(overhead), chunks == 1 || last > Int64(overhead) else { return nil }
        return (chunks - 1) * Int64(chunkBytes) + last - Int64(overhead)
    }

    /// Whether the file at `path` is a sealed object (by its first 8 bytes): an encrypted repository's file given
    /// where an archive is expected.
    package static func isSealed(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: magic.count)).map(Array.init) == magic
    }

    /// The stored size of an object of `plain` bytes.
    package static func storedSize(_ plain: Int64) -> Int64 {
        let chunks = max(1, (plain + Int64(chunkBytes) - 1) / Int64(chunkBytes))
        return Int64(magic.count) + plain + chunks * Int64(overhead)
    }

    /// How many chunks an object of `plain` bytes has.
    package static func chunkCount(_ plain: Int64) -> Int64 { max(1, (plain + Int64(chunkBytes) - 1) / Int64(chunkBytes)) }

    /// Where chunk `index` starts in the stored object.
    package static func chunkOffset(_ index: Int64) -> Int64 { Int64(magic.count) + index * Int64(sealedChunkBytes) }

    static func associatedData(_ relativePath: String, index: Int64, final: Bool) -> [UInt8] {
        var data = Array(relativePath.utf8)
        data.append(0)
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: UInt64(index) >> UInt64(shift))) }
        data.append(final ? 1 : 0)
        return data
    }

    /// Seals one chunk and appends it to `out`.
    static func sealChunk(
        _ plain: UnsafeRawBufferPointer, key: SymmetricKey, relativePath: String, index: Int64, final: Bool, into out: inout [UInt8]
    ) throws {
        let box = try AES.GCM.seal(
            plain, using: key, nonce: AES.GCM.Nonce(), authenticating: associatedData(relativePath, index: index, final: final))
        out.append(contentsOf: box.nonce)
        out.append(contentsOf: box.ciphertext)
        out.append(contentsOf: box.tag)
    }

    /// Opens one sealed chunk (`sealed`: nonce, ciphertext, tag).
    /// - Throws: `VeloError` (`.damaged`) naming the object and the chunk when it fails authentication.
    static func openChunk(
        _ sealed: UnsafeRawBufferPointer, key: SymmetricKey, relativePath: String, index: Int64, final: Bool, describe: String
    ) throws -> [UInt8] {
        Array(try openChunkData(sealed, key: key, relativePath: relativePath, index: index, final: final, describe: describe))
    }

    /// `openChunk`, as the `Data` the cipher returns (no copy).
    static func openChunkData(
        _ sealed: UnsafeRawBufferPointer, key: SymmetricKey, relativePath: String, index: Int64, final: Bool, describe: String
    ) throws -> Data {
        guard sealed.count >= overhead else { throw damage(describe, "chunk \(index) is cut short") }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: UnsafeRawBufferPointer(rebasing: sealed[0..<nonceBytes])),
                ciphertext: UnsafeRawBufferPointer(rebasing: sealed[nonceBytes..<(sealed.count - tagBytes)]),
                tag: UnsafeRawBufferPointer(rebasing: sealed[(sealed.count - tagBytes)...]))
            return try AES.GCM.open(box, using: key, authenticating: associatedData(relativePath, index: index, final: final))
        } catch {
            throw damage(
                describe,
                final
                    ? "its last chunk (\(index)) fails authentication: the object is damaged, cut short, or was moved from another name"
                    : "chunk \(index) fails authentication: the object is damaged or was moved from another name")
        }
    }

    static func damage(_ describe: String, _ what: String) -> VeloError {
        VeloError("\(describe): cannot be decrypted: \(what)", kind: .damaged)
    }

    /// The sealed form of a whole object.
    package static func seal(_ bytes: [UInt8], keys: RepositoryKeys, relativePath: String) throws -> [UInt8] {
        let key = keys.objectKey(relativePath)
        var out = magic
        out.reserveCapacity(Int(storedSize(Int64(bytes.count))))
        let chunks = chunkCount(Int64(bytes.count))
        try bytes.withUnsafeBytes { all in
            for index in 0..<chunks {
                let start = Int(index) * chunkBytes
                let end = min(all.count, start + chunkBytes)
                try sealChunk(
                    UnsafeRawBufferPointer(rebasing: all[start..<end]), key: key, relativePath: relativePath, index: index,
                    final: index == chunks - 1, into: &out)
            }
        }
        return out
    }

    /// The bytes of a whole sealed object, authenticated.
    /// - Throws: `VeloError` (`.damaged`) naming the object (`describe`) when it is not a sealed object of its name.
    package static func open(_ stored: [UInt8], keys: RepositoryKeys, relativePath: String, describe: String) throws -> [UInt8] {
        guard stored.starts(with: magic) else {
            throw damage(describe, "it does not start with \(String(decoding: magic, as: UTF8.self)) (not an encrypted object)")
        }
        guard let plain = plaintextSize(Int64(stored.count)) else {
            throw damage(describe, "its size (\(stored.count) bytes) is not one a sealed object can have (cut short)")
        }
        let key = keys.objectKey(relativePath)
        let chunks = chunkCount(plain)
        var out: [UInt8] = []
        out.reserveCapacity(Int(plain))
        try stored.withUnsafeBytes { all in
            for index in 0..<chunks {
                let start = Int(chunkOffset(index))
                let end = min(all.count, start + sealedChunkBytes)
                out += try openChunk(
                    UnsafeRawBufferPointer(rebasing: all[start..<end]), key: key, relativePath: relativePath, index: index,
                    final: index == chunks - 1, describe: describe)
            }
        }
        return out
    }
}
