/// Damage found while reading an archive: a broken zstd frame or tar structure, an entry that is not what the
/// manifest (or the catalog) says, a row past the format's limits, bytes after the end. Every reader throws
/// this one type, so a caller tells damage (exit 3, a blocked plan) from other failures without reading text.
public struct ArchiveDamage: VeloFailure {
    public var kind: ErrorKind { .damaged }
    /// The archive file.
    public let path: String
    /// The entry at fault, when there is one.
    public let entry: String?
    public let reason: String

    public init(path: String, entry: String?, reason: String) {
        self.path = path
        self.entry = entry
        self.reason = reason
    }

    public var description: String {
        entry.map { "\(path): entry \($0): \(reason)" } ?? "\(path): \(reason)"
    }
}
