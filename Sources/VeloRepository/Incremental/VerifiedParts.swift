import Foundation
import VeloFormat
import VeloStorage

/// The rebuilt parts that one run of `velo verify` has already read and found sound, so that verifying many
/// incremental snapshots reads each shared piece once: a part made of the same segments of the same list (the
/// list's SHA-256, the part's first segment and count) with the same SHA-256 rebuilds the same bytes.
public final class VerifiedParts: @unchecked Sendable {
    private var keys = Set<String>()
    private var hits = 0
    private let lock = NSLock()

    /// How many parts were not read again because an earlier verification read them.
    package var reused: Int { lock.withLock { hits } }

    /// With `--read-subset`: the lists whose data this run reads; the other parts are trusted from the manifest.
    public let subset: ReadSubset?

    public init(subset: ReadSubset? = nil) { self.subset = subset }

    func contains(_ key: String) -> Bool {
        lock.withLock {
            let found = keys.contains(key)
            if found { hits += 1 }
            return found
        }
    }
    func insert(_ key: String) { lock.withLock { _ = keys.insert(key) } }
}
