import Crypto
import Foundation

/// The keys of an encrypted repository, all derived from its master key: 32 random bytes made once by
/// `velo init --encrypt`, never stored but wrapped in key files (`KeyFile`), so that passwords change without
/// touching any data. Each use has its own key, derived with HKDF-SHA256 (no salt) under a label:
///
/// - `velo-data-v1`: the key each object's own key is derived from (`SealedObject`).
/// - `velo-address-v1`: the HMAC-SHA256 key of content addresses (segment lists' names), so that two repositories
///   never share a name for the same rows and nobody without the key can confirm a guessed row by its name.
/// - `velo-segment-v1`: what segments are prefixed with before they are hashed (a plain repository uses its id).
///
/// docs/FORMAT.md ("Encryption") gives every derivation, for readers that are not velo.
public struct RepositoryKeys: Sendable {
    /// The master key, as a key file wraps it.
    public let master: SymmetricKey
    let data: SymmetricKey
    let address: SymmetricKey
    /// Prefixed to segments before they are hashed (`velo-segment-v1`): in a plain repository its id.
    public let segmentHashKey: [UInt8]

    public static let masterKeyBytes = 32

    public init(master: SymmetricKey) {
        self.master = master
        data = Self.derive(master, label: "velo-data-v1")
        address = Self.derive(master, label: "velo-address-v1")
        segmentHashKey = Self.derive(master, label: "velo-segment-v1").withUnsafeBytes { Array($0) }
    }

    /// A new random master key.
    public static func generate() -> RepositoryKeys { RepositoryKeys(master: SymmetricKey(size: .bits256)) }

    static func derive(_ key: SymmetricKey, label: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array(label.utf8), outputByteCount: 32)
    }

    /// The key of the object stored at `relativePath`: each name has its own, so an object moved to another
    /// name does not open there (its name is also each chunk's associated data).
    func objectKey(_ relativePath: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: data, info: Array("velo-object-v1".utf8) + [0] + Array(relativePath.utf8), outputByteCount: 32)
    }

    /// The keyed content address of `bytes`: HMAC-SHA256 under the address key, as 64 lower-case hex digits.
    public func contentAddress(_ bytes: [UInt8]) -> String {
        HMAC<SHA256>.authenticationCode(for: bytes, using: address).map { Self.hex($0) }.joined()
    }

    /// A short fingerprint of the master key (for `velo key list`): the first 8 bytes of HMAC-SHA256 of a fixed
    /// label under the address key, which says whether two repositories share a master key and nothing more.
    public var fingerprint: String {
        HMAC<SHA256>.authenticationCode(for: Array("velo-fingerprint-v1".utf8), using: address).prefix(8).map { Self.hex($0) }
            .joined()
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
