import Crypto
import Foundation
import VeloFormat
import VeloStorage

/// The keys this process has unlocked, so that a process that opens the same encrypted repository again (a
/// server per request, a scheduler per round) derives its key once (scrypt's 0.4 s and 32 MiB), not each time.
/// Kept in memory only, by location and the SHA-256 of the password, and used only while the key file that
/// opened them is still stored unchanged: a removed or changed key file stops opening the repository here too.
final class UnlockedKeys: @unchecked Sendable {
    static let shared = UnlockedKeys()
    private let lock = NSLock()
    private var unlocked: [Slot: (keys: RepositoryKeys, file: KeyFile)] = [:]

    /// A repository (by where it is) and a password (by its SHA-256).
    private struct Slot: Hashable {
        var location: String
        var password: String
    }

    private static func slot(_ storage: any RepositoryStorage, _ password: [UInt8]) -> Slot {
        Slot(location: storage.location, password: SHA256Digest.of(password))
    }

    func keys(_ storage: any RepositoryStorage, password: [UInt8], fingerprint: String) -> (RepositoryKeys, KeyFile)? {
        let slot = Self.slot(storage, password)
        guard let known = lock.withLock({ unlocked[slot] }), known.keys.fingerprint == fingerprint,
            let stored = try? storage.load(.key(known.file.id)), stored == known.file.bytes
        else { return nil }
        return known
    }

    func remember(_ storage: any RepositoryStorage, password: [UInt8], keys: RepositoryKeys, file: KeyFile) {
        let slot = Self.slot(storage, password)
        lock.withLock { unlocked[slot] = (keys, file) }
    }
}
