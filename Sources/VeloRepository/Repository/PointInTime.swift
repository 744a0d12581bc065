import VeloFormat
import VeloStorage

/// Point-in-time selection: the snapshot a restore "as of TIME" uses — the newest one taken at or before TIME
/// from the target's source (from any source when none of the repository's snapshots came from it).
public enum PointInTime {
    /// The snapshot a restore of `source` as of `time` (Unix seconds) uses.
    /// - Throws: `VeloError` (`.input`) when the repository has no snapshot at or before `time` (naming the oldest),
    ///   or holds only other databases' snapshots.
    public static func select(at time: Int64, source: String?, in repository: Repository) throws -> CatalogEntry {
        let all = try repository.catalog.entries()
        guard !all.isEmpty else { throw VeloError("\(repository.root): the repository has no snapshots") }
        let absolute = source.map(FileSystem.absolute)
        let fromSource = all.filter { $0.sourcePath == absolute }
        let sources = Set(all.map(\.sourcePath))
        // Another database's snapshot is never picked by accident: only a repository of one source falls back.
        if fromSource.isEmpty && sources.count > 1 {
            throw VeloError(
                "\(repository.root): no snapshot of \(absolute ?? "the target"); the repository holds snapshots of \(sources.sorted().joined(separator: ", ")): name one by id"
            )
        }
        let candidates = fromSource.isEmpty ? all : fromSource
        if let pick = candidates.filter({ $0.time <= time }).last { return pick }
        let oldest = candidates.first!
        throw VeloError(
            "\(repository.root): no snapshot\(fromSource.isEmpty ? "" : " of \(absolute!)") at or before \(Timestamp.iso8601(time)); the oldest is \(oldest.id) at \(Timestamp.iso8601(oldest.time))"
        )
    }
}
