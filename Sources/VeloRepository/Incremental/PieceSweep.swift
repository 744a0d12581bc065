import Foundation
import VeloFormat
import VeloStorage

/// Prune's mark and sweep over the pieces of incremental snapshots: every stored archive (catalogued or not
/// yet) marks the segment lists its `segments.json` names (a patch's base too), each list marks its packs, and every piece
/// nothing marks is deleted. Run under the repository lock, after the archives being removed are gone (or, for
/// a dry run, with them excluded), so a piece is freed exactly when no remaining snapshot needs it.
package enum PieceSweep {
    /// What a sweep would free (or freed).
    package struct Result: Sendable {
        package var files: [String] = []
        package var bytes: Int64 = 0
        /// False when something could not be read, so some unreferenced pieces may be left.
        package var complete = true
    }

    /// Marks from every archive except `excluding` (repository-relative paths) and deletes the rest (unless
    /// `dryRun`). Refuses to delete anything (and says why) when an archive or list cannot be read, since what
    /// it references is then unknown.
    @discardableResult
    package static func run(_ repository: Repository, excluding: Set<String> = [], dryRun: Bool = false) -> Result {
        let storage = repository.storage
        let store = PieceStore(storage: storage)
        // Temporaries of writers that are gone first: a backup killed before its first piece leaves only those.
        if !dryRun { for kind in [StoredKind.list, .pack] { _ = try? storage.removeLeftovers(kind) } }
        guard hasPieces(storage) else { return Result() }
        var lists = Set<String>()
        // Each table's own list with the segment count its document gives, the bound it is read within (a patch
        // reads its base within the count the patch gives; a patch's packs include its base's).
        var tableLists: [String: Int] = [:]
        var packs = Set<String>()
        var marksComplete = true
        var archives: [StoredName] = []
        do { try storage.list(.snapshot) { name, _ in if !excluding.contains(name.relativePath) { archives.append(name) } } } catch {
            Diagnostics.warn("\(storage.location): cannot list the snapshots (\(error)); no piece is deleted")
            return Result(files: [], bytes: 0, complete: false)
        }
        for archive in archives {
            do {
                let marks = try ArchiveMarks.of(archive, in: repository)
                lists.formUnion(marks.lists)
                tableLists.merge(marks.tableLists) { $1 }
            } catch StorageError.missing {
                continue  // removed since the listing (only a reader runs without the lock)
            } catch {
                Diagnostics.warn(
                    "\(storage.describe(archive)): cannot read which pieces it uses (\(error)); no piece is deleted until it is removed or readable"
                )
                marksComplete = false
            }
        }
        var packsComplete = marksComplete
        for (list, segments) in tableLists {
            do { packs.formUnion(try store.readList(list, segments: segments).packs) } catch {
                Diagnostics.warn("\(repository.root): \(error); no pack is deleted while it cannot be read")
                packsComplete = false
            }
        }
        var result = Result()
        result.complete = packsComplete
        func sweep(_ kind: StoredKind, keep: Set<String>, allowed: Bool) {
            guard allowed else { return }
            var unused: [(StoredName, Int64)] = []
            do { try storage.list(kind) { name, info in if !keep.contains(name.name) { unused.append((name, info.size)) } } } catch {
                Diagnostics.warn("\(storage.location): cannot list the \(kind.rawValue)s (\(error)); none is deleted")
                result.complete = false
                return
            }
            for (name, size) in unused {
                if !dryRun {
                    do { try storage.remove(name) } catch {
                        Diagnostics.warn("\(storage.location): \(error)")
                        result.complete = false
                        continue
                    }
                    Diagnostics.info("\(storage.location): \(name.relativePath) removed, no snapshot uses it")
                }
                result.bytes += size
                result.files.append(name.relativePath)
            }
        }
        sweep(.list, keep: lists, allowed: marksComplete)
        sweep(.pack, keep: packs, allowed: packsComplete)
        // The folders the deletions emptied.
        if !dryRun { for kind in [StoredKind.list, .pack] { _ = try? storage.removeLeftovers(kind) } }
        return result
    }

    /// Whether any pack or list is stored (temporaries aside): without one there is nothing to mark or sweep, and
    /// no archive need be read.
    package static func hasPieces(_ storage: any RepositoryStorage) -> Bool {
        struct Found: Error {}
        for kind in [StoredKind.list, .pack] {
            do { try storage.list(kind) { _, _ in throw Found() } } catch is Found { return true } catch { return true }
        }
        return false
    }

    /// Writes the marker that makes the next writer sweep: set before pieces that nothing references yet may
    /// exist (a backup about to write packs, a prune about to remove snapshots).
    /// Returns whether the marker was there already (a sweep that could not finish still needs it: the caller
    /// must not clear it just because its own work succeeded).
    @discardableResult
    package static func markNeeded(_ repository: Repository) throws -> Bool {
        // Created only if absent: one request, and a marker already there is left as it is.
        !(try repository.storage.saveIfAbsent(.sweepMarker, []))
    }

    /// Removes the marker once nothing unreferenced is left.
    package static func clearNeeded(_ repository: Repository) {
        try? repository.storage.remove(.sweepMarker)
    }

    /// Run by every writer after it takes the lock (`Repository.recover`, which has looked for the marker:
    /// `markerPresent`, nil when it could not tell): sweeps when a killed backup or prune left the marker.
    /// Leftovers of markers are looked for only in a `thorough` recovery.
    package static func recover(_ repository: Repository, markerPresent: Bool?, thorough: Bool) {
        if thorough { _ = try? repository.storage.removeLeftovers(.marker) }
        let present = markerPresent ?? ((try? repository.storage.stat(.sweepMarker)) != nil)
        guard present else { return }
        let result = run(repository)
        if !result.files.isEmpty {
            Diagnostics.info(
                "\(repository.root): removed \(result.files.count) pieces (\(result.bytes) bytes) an interrupted backup or prune left")
        }
        if result.complete { clearNeeded(repository) }
    }
}
