import VeloFormat

/// What a repository stores, by kind and name: the storage layer's only vocabulary, so that no code outside it
/// builds a repository path (restic's backend `Handle`). Each kind has a place in the repository's layout
/// (`StoredName.relativePath`), the same for a local folder and for the keys of an object store.
public enum StoredKind: String, CaseIterable, Sendable {
    /// `velo-repository.json`, the repository's identity (name: `velo-repository.json`).
    case config
    /// A snapshot archive (name: `<YYYYMMDDTHHMMSSZ>-<id>`, stored as `snapshots/YYYY/MM/<name>.tar.zst`).
    case snapshot
    /// A catalog entry or detail (name: `<id>.json`, `<id>.manifest.json`).
    case catalog
    /// A writer's lock (name: `exclusive.json`, `round.json`: always `.json`).
    case lock
    /// A snapshot removal in progress (name: `<id>.json`).
    case trash
    /// A pack of zstd frames (name: 64 hex digits, stored as `data/packs/<hh>/<name>.pack`).
    case pack
    /// A segment list or patch (name: its SHA-256, stored as `data/lists/<hh>/<name>.list`).
    case list
    /// A marker file of the pieces (name: `sweep-needed`, stored as `data/<name>`).
    case marker
    /// A key file of an encrypted repository: its master key wrapped by a password (name: `<16 hex>.json`, stored
    /// as `keys/<name>`). Stored as it is, like the identity: it is what opens everything else.
    case key
    /// Continuous capture (`velo replicate`): a batch of an interval's captured commits (name:
    /// `<ms13>-<stream16>-<seq10>.batch`) or a source's base copy (name: `<ms13>-<stream16>-<source16>.base`),
    /// stored as `continuous/<name>`; the names sort by the time they were written.
    case capture
}

/// One stored object: its kind and its name within the kind.
public struct StoredName: Hashable, Sendable, CustomStringConvertible {
    public var kind: StoredKind
    public var name: String

    public init(_ kind: StoredKind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    public static func pack(_ name: String) -> StoredName { StoredName(.pack, name) }
    public static func list(_ sha256: String) -> StoredName { StoredName(.list, sha256) }
    public static let sweepMarker = StoredName(.marker, "sweep-needed")
    /// The repository's identity (`velo-repository.json`).
    public static let config = StoredName(.config, "velo-repository.json")
    /// The lock of writers (backup, prune, restore's safety snapshot).
    public static let exclusiveLock = StoredName(.lock, "exclusive.json")
    /// The lock of scheduled rounds (`velo run`).
    public static let roundLock = StoredName(.lock, "round.json")
    public static func catalogEntry(_ id: String) -> StoredName { StoredName(.catalog, "\(id).json") }
    public static func catalogDetail(_ id: String) -> StoredName { StoredName(.catalog, "\(id).manifest.json") }
    public static func trash(_ id: String) -> StoredName { StoredName(.trash, "\(id).json") }
    /// The key file `id` (16 hex digits) of an encrypted repository.
    public static func key(_ id: String) -> StoredName { StoredName(.key, "\(id).json") }

    /// The archive of a snapshot taken at `time` (seconds since the epoch, UTC) with `id`:
    /// `<YYYYMMDDTHHMMSSZ>-<id>`.
    public static func snapshot(id: String, time: Int64) -> StoredName {
        let stamp = Timestamp.format(time)  // 2026-11-27 10:11:15
        let compact = stamp.filter { $0 != "-" && $0 != ":" }.replacingOccurrences(of: " ", with: "T")
        return StoredName(.snapshot, "\(compact)Z-\(id)")
    }

    /// The snapshot id of a snapshot archive's name (`20261127T101115Z-<id>`), nil for another kind or name.
    public var snapshotID: String? {
        guard kind == .snapshot, let dash = name.lastIndex(of: "-") else { return nil }
        let id = String(name[name.index(after: dash)...])
        return SnapshotID.isValid(id) ? id : nil
    }

    /// Whether `name` is one this kind can hold: the layout must never be asked for a path outside its folder.
    public var isValid: Bool {
        guard !name.isEmpty, !name.hasPrefix("."), !name.contains("/"), !name.contains("\0") else { return false }
        switch kind {
        case .pack, .list: return name.count == 64 && name.allSatisfy(\.isHexDigit)
        case .snapshot: return name.count > 17 && name.prefix(8).allSatisfy(\.isNumber)
        case .lock, .trash: return name.hasSuffix(".json") && name.count > 5
        case .key: return name.count == 21 && name.hasSuffix(".json") && name.prefix(16).allSatisfy { $0.isHexDigit && !$0.isUppercase }
        case .capture:
            return (name.hasSuffix(".batch") || name.hasSuffix(".base") || name.hasSuffix(".pack"))
                && name.prefix(13).allSatisfy(\.isNumber)
        default: return true
        }
    }

    /// The object's path relative to the repository's root: its key in an object store.
    public var relativePath: String {
        switch kind {
        case .config: return name
        case .snapshot:
            return "snapshots/\(name.prefix(4))/\(name.dropFirst(4).prefix(2))/\(name)\(StoredKind.snapshotExtension)"
        case .catalog: return "catalog/\(name)"
        case .lock: return "locks/\(name)"
        case .trash: return "trash/\(name)"
        case .pack: return "\(StoredKind.packsFolder)/\(name.prefix(2))/\(name).pack"
        case .list: return "\(StoredKind.listsFolder)/\(name.prefix(2))/\(name).list"
        case .marker: return "data/\(name)"
        case .key: return "keys/\(name)"
        case .capture: return "continuous/\(name)"
        }
    }

    /// The name a relative path holds for `kind`, or nil when the path is not one of the kind's objects (a
    /// temporary file, a stray file): the inverse of `relativePath`.
    public static func parse(_ relativePath: String, as kind: StoredKind) -> StoredName? {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let file = components.last else { return nil }
        let name: String
        switch kind {
        case .pack, .list:
            let suffix = kind == .pack ? ".pack" : ".list"
            guard components.count == 4, file.hasSuffix(suffix) else { return nil }
            name = String(file.dropLast(suffix.count))
            guard components[2] == String(name.prefix(2)) else { return nil }
        case .snapshot:
            guard components.count == 4, file.hasSuffix(StoredKind.snapshotExtension) else { return nil }
            name = String(file.dropLast(StoredKind.snapshotExtension.count))
        case .config, .catalog, .lock, .trash, .marker, .key, .capture:
            guard components.count == (kind == .config ? 1 : 2) else { return nil }
            name = file
        }
        let parsed = StoredName(kind, name)
        return parsed.isValid && parsed.relativePath == relativePath ? parsed : nil
    }

    public var description: String { relativePath }
}

extension StoredKind {
    static let snapshotExtension = ".tar.zst"
    package static let packsFolder = "data/packs"
    package static let listsFolder = "data/lists"

    /// The folder (relative to the root) that holds every object of the kind.
    var folder: String {
        switch self {
        case .config: return ""
        case .snapshot: return "snapshots"
        case .catalog: return "catalog"
        case .lock: return "locks"
        case .trash: return "trash"
        case .pack: return StoredKind.packsFolder
        case .list: return StoredKind.listsFolder
        case .marker: return "data"
        case .key: return "keys"
        case .capture: return "continuous"
        }
    }
}
