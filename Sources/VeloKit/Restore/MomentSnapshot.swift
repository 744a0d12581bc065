import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A source as it was at a moment of its continuous capture, as a snapshot: restored (`PointInTimeRestore`)
/// into the repository's scratch folder and backed up there into a repository of its own, so every reader of
/// snapshots (`velo cat`, `velo diff`) answers for any captured moment, with the same encoding and rules, and
/// nothing is restored over anything. The folder goes when the value does.
public final class MomentSnapshot {
    /// The snapshot, catalogued in the scratch repository.
    public let selected: SelectedSnapshot
    /// The restore it was made from: the moment, and the last commit applied.
    public let restore: PointInTimeRestore.Result
    private let folder: String

    /// Restores `source` (an absolute path, or nil for the only source captured) as of `time` (ms) from
    /// `repository`'s continuous capture and snapshots it.
    /// - Throws: `PointInTimeError` for a moment outside the captured window; `.input` when nothing of the source
    ///   is captured (or several sources are and none was named); what restoring and backing up throw.
    public init(source: String?, at time: Int64, repository: Repository) throws {
        let histories = try ContinuousHistory.loadAll(storage: repository.storage)
        let history: ContinuousHistory
        if let source {
            guard let found = histories[FileSystem.absolute(source)] else {
                throw VeloError("\(repository.root): holds no continuous capture of \(FileSystem.absolute(source))")
            }
            history = found
        } else {
            guard histories.count == 1, let only = histories.values.first else {
                throw VeloError(
                    histories.isEmpty
                        ? "\(repository.root): holds no continuous capture"
                        : "\(repository.root): captures \(histories.count) sources; name one: \(histories.keys.sorted().joined(separator: ", "))",
                    remedy: histories.isEmpty ? nil : .nameTheSource)
            }
            history = only
        }
        // On the repository's scratch disk (not /tmp, often a small tmpfs), under this process's pid: another
        // writer's cleanup leaves it alone while the process lives, and the next moment removes it once it is gone.
        let scratch = repository.storage.scratchDirectory
        ScratchFolder.removeAbandoned(in: scratch, prefix: "velo-moment-")
        folder = (scratch as NSString).appendingPathComponent("velo-moment-\(UInt32.random(in: 0...UInt32.max)).tmp-\(getpid())")
        try FileSystem.createDirectory(folder)
        do {
            let database = (folder as NSString).appendingPathComponent((history.source as NSString).lastPathComponent)
            restore = try PointInTimeRestore.run(history: history, at: time, into: database, repository: repository)
            let scratch = try Repository.open((folder as NSString).appendingPathComponent("repo"), create: true)
            var options = Backup.Options()
            options.incremental = false
            options.time = time / 1000
            let backup = try Backup.run(databasePath: database, repository: scratch, options: options)
            guard let entry = try scratch.catalog.entries().first(where: { $0.id == backup.id }) else {
                throw VeloError("\(scratch.root): the snapshot of \(history.source) as of \(restore.at) is not catalogued")
            }
            selected = .catalogued(entry, repository: scratch)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }
}
