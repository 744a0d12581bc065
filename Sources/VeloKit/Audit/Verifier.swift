import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo verify`: reads every byte of a snapshot (see `ArchiveAudit`) and records the result in the catalog.
public enum Verifier {
    public struct Report: Encodable, Sendable {
        public var id: String?
        public var archive: String
        public var ok: Bool
        public var problems: [String]
        public var entries: Int
        public var rows: Int
        /// Compressed bytes read and checked: the archive, and an incremental snapshot's pack frames.
        public var bytes: Int64
        public var seconds: Double
        /// With `--read-subset`: the subset, and the bytes of data outside it that were not read (trusted from the
        /// manifest). A sound partial read is not recorded in the catalog as a verification.
        public var readSubset: String? = nil
        public var bytesNotRead: Int64? = nil
        /// The requests this verification sent to a repository billed by request (object storage); nil for a
        /// folder or a lone archive.
        public var requests: StorageRequests? = nil
    }

    /// The report for a catalog entry that cannot be read: damage to name, although no archive can be chosen.
    public static func report(for damaged: Catalog.DamagedEntry) -> Report {
        Report(id: damaged.id, archive: damaged.path, ok: false, problems: [damaged.description], entries: 0, rows: 0, bytes: 0, seconds: 0)
    }

    /// How to repair a catalog entry or detail that disagrees with a sound archive: the next writer catalogues an
    /// archive without an entry again, from the archive itself.
    static func recatalogueAdvice(_ entry: CatalogEntry, in repository: Repository) -> String {
        "; remove \(repository.catalog.entryLocation(entry.id)) and the next backup or prune catalogues the snapshot again "
            + "from its archive, if that is sound"
    }

    /// Reads every byte of `snapshot` and reports what is damaged; a catalogued snapshot's result is recorded in
    /// the catalog (under the repository lock), where retention reads it.
    /// - Returns: the report: damage is in `problems`, not thrown.
    /// - Throws: `.input` when the snapshot names no archive, `.interrupted` after `Interruption.request`.
    /// With `verifiedParts` shared by the verifications of one run, a part of an incremental snapshot that an
    /// earlier one rebuilt and checked (the same segments of the same list) is not read again.
    public static func verify(
        _ snapshot: SelectedSnapshot, verifiedParts: VerifiedParts? = nil, progress: (any ProgressObserver)? = nil
    ) throws -> Report {
        let started = ContinuousClock.now
        let storage = snapshot.repository?.storage
        let requestsBefore = storage?.requests
        let subsetSkippedBefore = verifiedParts?.subset?.skippedBytes ?? 0
        let path = snapshot.archiveLocation
        var problems: [ArchiveAudit.Problem] = []
        var audit: ArchiveAudit?
        // What the catalog recorded (the manifest every restore checks the archive against): unreadable, it is
        // damage of the snapshot, which no restore could select.
        var recorded: (header: SnapshotHeader, manifest: Manifest)?
        if case .catalogued(let entry, let repository) = snapshot {
            do { recorded = try repository.catalog.detail(entry.id) } catch {
                let location = repository.catalog.detailLocation(entry.id)
                let reason = "\(error)".hasPrefix(location) ? "\(error)" : "\(location): \(error)"
                problems.append(.init(entry: nil, reason: reason + Self.recatalogueAdvice(entry, in: repository)))
            }
        }
        if (try? snapshot.archiveSize()) == nil {
            problems.append(.init(entry: nil, reason: "\(path): the archive file is missing"))
        } else {
            do {
                let result = try ArchiveAudit.run(
                    path: path, open: { try snapshot.openReader(cached: false) }, expectedSHA256: snapshot.catalogEntry?.archiveSHA256,
                    expectedBytes: snapshot.catalogEntry?.archiveBytes, expectedAt: snapshot.catalogEntryLocation,
                    recordedManifest: recorded?.manifest,
                    recordedAt: snapshot.catalogRecordLocation, verifiedParts: verifiedParts,
                    progress: progress)
                problems += result.problems
                audit = result
            } catch let damage as ArchiveDamage {
                problems.append(.init(entry: damage.entry, reason: damage.reason))
            }
        }
        if let entry = snapshot.catalogEntry, let audit {
            if let header = audit.header, header.id != entry.id {
                problems.append(.init(entry: ArchiveFormat.headerPath, reason: "is snapshot \(header.id), the catalog expects \(entry.id)"))
            } else if case .catalogued(_, let repository) = snapshot, let header = audit.header, let manifest = audit.manifest {
                let fields = entry.disagreements(withArchive: header, manifest: manifest)
                if !fields.isEmpty {
                    problems.append(
                        .init(
                            reason: "\(repository.catalog.entryLocation(entry.id)): the catalog entry's \(fields.joined(separator: ", ")) "
                                + "disagree with the archive" + Self.recatalogueAdvice(entry, in: repository)))
                }
                if let recorded, recorded.header != header {
                    problems.append(
                        .init(
                            reason:
                                "\(repository.catalog.detailLocation(entry.id)): the header the catalog recorded differs from the archive's"
                                + Self.recatalogueAdvice(entry, in: repository)))
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        var report = Report(
            id: snapshot.id ?? audit?.header?.id, archive: path, ok: problems.isEmpty, problems: problems.map(\.description),
            entries: audit?.entries.count ?? 0, rows: audit?.rowsChecked ?? 0, bytes: (audit?.archiveBytes ?? 0) + (audit?.frameBytes ?? 0),
            seconds: elapsed.inSeconds)
        let subset = verifiedParts?.subset
        if let subset {
            report.readSubset = subset.description
            report.bytesNotRead = subset.skippedBytes - subsetSkippedBefore
        }
        // A sound partial read says nothing of the rest: only damage it found is recorded.
        if case .catalogued(var entry, let repository) = snapshot, subset == nil || !report.ok {
            entry.verification = .init(time: Timestamp.now, ok: report.ok, problems: report.problems)
            // Recorded under the repository lock, and only if a prune has not removed the snapshot meanwhile.
            do {
                let lock = try repository.lock(command: "velo verify", wait: max(.seconds(60), repository.lockWait))
                defer { lock.release() }
                if try repository.storage.stat(.catalogEntry(entry.id)) != nil { try repository.catalog.update(entry) }
            } catch {
                Diagnostics.warn("the result of verifying \(entry.id) was not recorded in the catalog: \(error)")
            }
        }
        if let requestsBefore, let now = storage?.requests { report.requests = now - requestsBefore }
        return report
    }
}
