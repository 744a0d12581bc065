import Crypto
import Foundation
import VeloFormat
import _CryptoExtras

/// scrypt's parameters for one key file (RFC 7914): `n` (a power of two: the memory-hard work), `r` (block size)
/// and `p` (parallelism, here only more time). Stored in each key file, so a key file made on a fast machine
/// opens on a slow one, and a password changed later is calibrated afresh.
public struct ScryptParameters: Sendable, Equatable {
    public var n: Int
    public var r: Int
    public var p: Int

    public init(n: Int, r: Int, p: Int) {
        self.n = n
        self.r = r
        self.p = p
    }

    /// What velo derives with: 32 MiB (n = 2^15, r = 8) and as many passes as take about `target` on this machine
    /// (`calibrated`).
    public static let baseline = ScryptParameters(n: 1 << 15, r: 8, p: 1)

    /// The memory one derivation takes: scrypt's V array (128·r·n bytes) and its blocks (128·r·(p + 2)).
    public var memoryBytes: Int { 128 * r * (n + p + 2) }

    /// Whether velo derives with these: what a key file may ask for is bounded, so that an edited key file cannot
    /// make velo spend more memory than its commands may (a key file comes from the storage, a sealed export from
    /// anywhere): n up to 2^20, r up to 32, p up to 64, and at most 65 MiB (n = 2^16 at r = 8, twice velo's own).
    public var isAccepted: Bool {
        n >= 2 && n <= 1 << 20 && n & (n - 1) == 0 && (1...32).contains(r) && (1...64).contains(p) && memoryBytes <= 65 << 20
    }

    /// The 32-byte key `password` and `salt` give.
    public func derive(_ password: [UInt8], salt: [UInt8]) throws -> SymmetricKey {
        try KDF.Scrypt.deriveKey(
            from: password, salt: salt, outputByteCount: 32, rounds: n, blockSize: r, parallelism: p, maxMemory: memoryBytes + (1 << 20))
    }

    /// The baseline's memory with `p` raised as far as one derivation stays within `target` (at least 1, at most 64
    /// passes), or `n` lowered on a machine where a single pass takes longer than twice the target. 0.4 s by
    /// default: every command on an encrypted repository derives its key first, and an unchanged backup, the
    /// derivation included, should take at most half a second.
    public static func calibrated(target: Duration = .milliseconds(400)) -> ScryptParameters {
        var parameters = baseline
        let salt = [UInt8](repeating: 0, count: 32)
        let clock = ContinuousClock()
        var once = clock.measure { _ = try? parameters.derive(Array("calibration".utf8), salt: salt) }
        while once > target * 2 && parameters.n > 1 << 12 {
            parameters.n /= 2
            once = clock.measure { _ = try? parameters.derive(Array("calibration".utf8), salt: salt) }
        }
        let ratio = target / max(once, .microseconds(1))
        parameters.p = min(64, max(1, Int(ratio.rounded(.down))))
        return parameters
    }
}
