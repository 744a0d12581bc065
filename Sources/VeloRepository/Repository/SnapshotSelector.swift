import Foundation
import VeloFormat
import VeloStorage

/// A snapshot named on the command line: a full id, a unique id prefix, `latest`, or the path of an archive
/// file (which need not be in any repository: a lone archive copied elsewhere can still be audited).
public enum SelectedSnapshot {
    case catalogued(CatalogEntry, repository: Repository)
    case archive(path: String)
    /// An encrypted snapshot's export (`velo export` without `--decrypt`), opened with its password.
    case sealedExport(SealedExport.Opened)

    /// Where the archive is, for messages and reports: the file of a lone archive, the place of a catalogued
    /// one in its repository's storage.
    public var archiveLocation: String {
        switch self {
        case .catalogued(let entry, let repository): return repository.archiveLocation(of: entry)
        case .archive(let path): return path
        case .sealedExport(let export): return export.path
        }
    }

    /// A reader of the archive, in either format: a catalogued one through its repository's storage (with
    /// `cached` false, reading its segment lists from the storage itself, not this machine's cache: verify).
    package func openReader(cached: Bool = true) throws -> SegmentedArchiveReader {
        switch self {
        case .catalogued(let entry, let repository): return try repository.archiveReader(of: entry, cached: cached)
        case .archive(let path): return try SegmentedArchiveReader(path: path)
        case .sealedExport(let export): return try SegmentedArchiveReader(input: try export.input(), pieces: { nil })
        }
    }

    /// The archive's size in bytes.
    package func archiveSize() throws -> Int64 {
        switch self {
        case .catalogued(let entry, let repository): return try repository.archiveSize(of: entry)
        case .archive(let path): return try FileSystem.fileSize(path)
        case .sealedExport(let export): return try export.archiveSize()
        }
    }

    /// The repository a catalogued snapshot is in; nil for a lone archive.
    public var repository: Repository? {
        if case .catalogued(_, let repository) = self { return repository }
        return nil
    }

    public var catalogEntry: CatalogEntry? {
        if case .catalogued(let entry, _) = self { return entry }
        return nil
    }

    /// What the catalog recorded for a catalogued snapshot: the manifest and the archive's SHA-256 that every
    /// read of it is checked against. nil for a lone archive.
    public func catalogRecord() throws -> (manifest: Manifest, sha256: String)? {
        guard case .catalogued(let entry, let repository) = self else { return nil }
        return (try repository.catalog.detail(entry.id).manifest, entry.archiveSHA256)
    }

    /// Where the snapshot's catalog entry is, for messages; nil for a lone archive.
    public var catalogEntryLocation: String? {
        guard case .catalogued(let entry, let repository) = self else { return nil }
        return repository.catalog.entryLocation(entry.id)
    }

    /// Where `catalogRecord()` reads from, for messages; nil for a lone archive.
    public var catalogRecordLocation: String? {
        guard case .catalogued(let entry, let repository) = self else { return nil }
        return repository.catalog.detailLocation(entry.id)
    }

    /// The snapshot id when known without reading the archive.
    public var id: String? { catalogEntry?.id }

    /// Resolves `text`: a full id, a unique id prefix, `latest` (the newest snapshot that `filter` matches), or
    /// the path of an archive (recognised by a `/` or the `.tar.zst` ending).
    /// - Throws: `VeloError` (`.input`) for an empty, unknown or ambiguous name (listing the candidates), a
    ///   `latest` that no snapshot matches, or a path that is missing or a directory.
    /// An encrypted export's path is opened with `password`.
    public static func resolve(
        _ text: String, repository: Repository?, filter: SnapshotFilter = SnapshotFilter(), password: PasswordSource? = nil
    ) throws -> SelectedSnapshot {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw VeloError("an empty snapshot name selects nothing: give an id, an id prefix, 'latest' or the path of an archive file")
        }
        let looksLikePath = text.contains("/") || text.hasSuffix(ArchiveFormat.fileExtension)
        if looksLikePath {
            let absolute = FileSystem.absolute(text)
            if let repository, let entry = try repository.catalog.entries().first(where: { repository.archiveLocation(of: $0) == absolute })
            {
                return .catalogued(entry, repository: repository)
            }
            guard FileSystem.exists(absolute) else { throw VeloError("\(text): no such archive file") }
            guard !FileSystem.isDirectory(absolute) else { throw VeloError("\(text): is a directory, not an archive file") }
            if SealedExport.isSealed(absolute) { return .sealedExport(try SealedExport.open(absolute, password: password)) }
            if SealedObject.isSealed(absolute) {
                throw VeloError(
                    "\(text): is an object of an encrypted repository, read through its repository by the snapshot's id",
                    remedy: .nameRepository)
            }
            return .archive(path: absolute)
        }
        guard let repository else {
            throw VeloError(
                "snapshot '\(text)': no repository is named, and it is not the path of an archive file", remedy: .nameRepository)
        }
        let entries = try repository.catalog.entries()
        if text == "latest" {
            guard let newest = entries.last(where: filter.matches) else {
                if entries.isEmpty || filter.isEmpty { throw VeloError("\(repository.root): the repository has no snapshots") }
                throw VeloError("\(repository.root): no snapshot of \(filter.description) (\(entries.count) snapshots of others)")
            }
            return .catalogued(newest, repository: repository)
        }
        let lowered = text.lowercased()
        let matches = entries.filter { $0.id.hasPrefix(lowered) }
        switch matches.count {
        case 1: return .catalogued(matches[0], repository: repository)
        case 0: throw VeloError("\(repository.root): no snapshot matches '\(text)' (\(entries.count) snapshots)")
        default:
            let list = matches.prefix(10).map { "\($0.id) (\(Timestamp.iso8601($0.time)))" }.joined(separator: ", ")
            throw VeloError(
                "snapshot '\(text)' is ambiguous: it matches \(matches.count) snapshots: \(list)\(matches.count > 10 ? ", ..." : "")")
        }
    }
}
