import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// A property of format 2 under damage (issue 30): in a generated repository of three incremental snapshots that
/// share pieces (with patch lists and delta frames), deleting, truncating, flipping a byte of, or swapping any
/// piece (a pack, a segment list, a snapshot's small archive, a catalog entry or detail) makes `verify` refuse
/// exactly the snapshots that read the damaged bytes, alone and beside the others (`verify --all`'s shared parts),
/// naming the piece; `plan` and `restore` of those refuse too, and every other snapshot still restores to what it
/// held. A catalog entry the next writer can rebuild from a sound archive is rebuilt (the snapshot is unlisted or
/// listed as damaged until then). The cases are a seeded sample of every piece and damage; the memory bounds of
/// the same damage are checked through the command in FormatTwoDamageCommandTests.
@Suite struct FormatTwoDamagePropertyTests {
    /// What one snapshot reads: its archive, its lists (and their bases), and the byte ranges of packs its
    /// segments' frames (and their delta bases) occupy.
    struct Usage {
        var id: String
        var archive: StoredName
        var lists: Set<String>
        var ranges: [String: [Range<Int64>]]

        func reads(_ name: StoredName, at damaged: Range<Int64>) -> Bool {
            switch name.kind {
            case .snapshot: return name == archive
            case .catalog: return name == .catalogEntry(id) || name == .catalogDetail(id)
            case .list: return lists.contains(name.name)
            case .pack: return (ranges[name.name] ?? []).contains { $0.overlaps(damaged) }
            default: return false
            }
        }
    }

    enum Damage: CaseIterable { case delete, truncate, flip, swap }

    static func usage(of entry: CatalogEntry, in repository: Repository) throws -> Usage {
        let store = PieceStore(storage: repository.storage)
        let document = try #require(try SegmentedSnapshot.read(entry, in: repository).segments)
        var usage = Usage(id: entry.id, archive: try repository.archiveName(of: entry), lists: Set(document.listPieces), ranges: [:])
        func add(_ frame: SegmentList.Frame) {
            usage.ranges[frame.pack, default: []].append(frame.offset..<frame.offset + Int64(frame.length))
            for base in frame.bases { add(base) }
        }
        for table in document.allTables where !table.parts.isEmpty {
            var list = try store.readList(table.list, segments: table.segments)
            var used = Set<Int>()
            while let segment = try list.next() { used.insert(segment.frame) }
            for index in used { add(list.frames[index]) }
        }
        return usage
    }

    /// Every table's rows, in order, as text: what a restore must give back.
    static func fingerprint(_ path: String) throws -> String {
        let db = try Database(path: path, mode: .readOnly)
        var text = ""
        for row in try db.rows("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") {
            guard case .text(let table) = row[0] else { continue }
            text += "\(table):\(try db.rows("SELECT * FROM \"\(table)\" ORDER BY rowid").map { "\($0)" }.joined(separator: "|"))\n"
        }
        return text
    }

    @Test func damageToAnyPieceRefusesExactlyTheSnapshotsThatReadIt() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 400)
        let pristine = dir.appendingPathComponent("repo").path
        let repository = try Repository.open(pristine, create: true)
        let db = try Database(path: source, mode: .readWrite)
        for change in [
            "", "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 7 = 0",
            // Few segments change: the table's list is stored as a patch against the previous one.
            "DELETE FROM _velo_posts WHERE rowid BETWEEN 200 AND 203; UPDATE _velo_posts SET title = title || '!' WHERE rowid BETWEEN 300 AND 310",
        ] {
            if !change.isEmpty { try db.execute(change) }
            _ = try Backup.run(databasePath: source, repository: repository, options: .init())
        }
        let entries = try repository.catalog.entries()
        #expect(entries.count == 3)
        // Every kind of piece is in play: patch lists against a base, and frames compressed against another.
        let documents = try entries.map { try #require(try SegmentedSnapshot.read($0, in: repository).segments) }
        #expect(documents.contains { $0.allTables.contains { $0.base != nil } }, "no patch list was written")
        #expect(documents.contains { $0.allTables.contains(where: \.deltaFrames) }, "no delta frame was written")
        let usages = try entries.map { try Self.usage(of: $0, in: repository) }
        let details = try entries.map { try repository.catalog.detail($0.id) }
        var references: [String] = []
        for (i, entry) in entries.enumerated() {
            let out = dir.appendingPathComponent("reference-\(i).sqlite").path
            _ = try NewDatabaseRestore.run(.catalogued(entry, repository: repository), manifest: nil, archiveSHA256: nil, to: out)
            references.append(try Self.fingerprint(out))
        }
        #expect(Set(references).count == 3, "three different states")

        var pieces: [StoredName] = []
        for kind in [StoredKind.snapshot, .list, .pack, .catalog] { try repository.storage.list(kind) { name, _ in pieces.append(name) } }
        pieces.sort { $0.relativePath < $1.relativePath }
        var random = SeededRandom(seed: 30)
        var cases: [(StoredName, Damage)] = pieces.flatMap { piece in Damage.allCases.map { (piece, $0) } }
        // Every snapshot archive, pack and catalog file with each damage; a sample of the lists (there are dozens).
        cases = cases.filter { $0.0.kind != .list || random.below(4) == 0 }
        var checked = 0
        var listingRefusals = 0  // an entry that parses but disagrees with its archive: verify refuses it alone
        var rebuiltEntries = 0  // an entry that no longer read as its own, catalogued again by the next writer
        for (n, (piece, damage)) in cases.enumerated() {
            let copy = dir.appendingPathComponent("case-\(n)").path
            try FileManager.default.copyItem(atPath: pristine, toPath: copy)
            defer { try? FileManager.default.removeItem(atPath: copy) }
            let file = (copy as NSString).appendingPathComponent(piece.relativePath)
            let bytes = try FileSystem.read(file)
            guard !bytes.isEmpty else { continue }
            // The damaged bytes of `piece` (and of its swap partner), for the usage model.
            var damaged: [(StoredName, Range<Int64>)] = []
            switch damage {
            case .delete:
                unlink(file)
                damaged = [(piece, 0..<Int64(bytes.count))]
            case .truncate:
                let keep = bytes.count / 2
                try Data(bytes[0..<keep]).write(to: URL(fileURLWithPath: file))
                damaged = [(piece, Int64(keep)..<Int64(bytes.count))]
            case .flip:
                // In a pack, a byte some snapshot reads half of the time, so that both outcomes are tried.
                var at = random.below(bytes.count)
                if piece.kind == .pack, random.below(2) == 0, let range = usages.flatMap({ $0.ranges[piece.name] ?? [] }).first {
                    at = Int(range.lowerBound) + random.below(Int(range.upperBound - range.lowerBound))
                }
                var flipped = bytes
                // In a catalog file, half of the time a digit made another (the JSON still parses, a value changed).
                let digits = bytes.indices.filter { (0x30...0x39).contains(bytes[$0]) }
                if piece.kind == .catalog, random.below(2) == 0, !digits.isEmpty {
                    at = digits[random.below(digits.count)]
                    flipped[at] ^= 0x01
                } else {
                    flipped[at] ^= 0x5A
                }
                try Data(flipped).write(to: URL(fileURLWithPath: file))
                damaged = [(piece, Int64(at)..<Int64(at + 1))]
            case .swap:
                guard let other = pieces.first(where: { $0.kind == piece.kind && $0 != piece }) else { continue }
                let otherFile = (copy as NSString).appendingPathComponent(other.relativePath)
                let otherBytes = try FileSystem.read(otherFile)
                guard otherBytes != bytes else { continue }
                try Data(otherBytes).write(to: URL(fileURLWithPath: file))
                try Data(bytes).write(to: URL(fileURLWithPath: otherFile))
                damaged = [(piece, 0..<Int64(bytes.count)), (other, 0..<Int64(otherBytes.count))]
            }
            let label = "\(damage) \(piece.relativePath)"
            let repo = try Repository.open(copy)

            // Before any writer: a snapshot whose entry no longer reads as its own is unlisted, or listed as
            // damaged (naming the entry), never listed as another's.
            let before = try repo.catalog.scan()
            for usage in usages where !before.entries.contains(where: { $0.id == usage.id }) {
                #expect(damaged.contains { $0.0 == .catalogEntry(usage.id) }, "\(label): a snapshot with a sound entry is not listed")
                if let report = before.damaged.first(where: { $0.id == usage.id }).map(Verifier.report(for:)) {
                    #expect(
                        !report.ok && report.problems[0].contains(StoredName.catalogEntry(usage.id).relativePath), "\(label): \(report)")
                } else {
                    #expect(try repo.storage.stat(.catalogEntry(usage.id)) == nil, "\(label): an entry is neither listed nor damaged")
                }
            }
            #expect(before.entries.map(\.id).count == Set(before.entries.map(\.id)).count, "\(label): a snapshot is listed twice")

            // The next writer's recovery catalogues again every sound archive whose entry it cannot read.
            try repo.lock(command: "test").release()
            let scan = try repo.catalog.scan()
            #expect(scan.damaged.isEmpty, "\(label): damaged entries are left: \(scan.damaged)")
            let shared = VerifiedParts()
            for (i, usage) in usages.enumerated() {
                guard let entry = scan.entries.first(where: { $0.id == usage.id }) else {
                    Issue.record("\(label): snapshot \(i) is no longer catalogued")
                    continue
                }
                // What verify holds the catalog to: the entry's archive fields and the fields its archive records,
                // and the detail (header and manifest) as the backup recorded it.
                let original = entries[i]
                let archiveWrong =
                    entry.archive != original.archive || entry.archiveBytes != original.archiveBytes
                    || entry.archiveSHA256 != original.archiveSHA256
                // The detail's manifest is what restores check every entry against; its header (like the entry's
                // listing fields) only describes the snapshot: verify refuses it, a restore goes by the archive's.
                let detail = try? repo.catalog.detail(usage.id)
                let listingWrong =
                    !entry.disagreements(withArchive: details[i].header, manifest: details[i].manifest).isEmpty
                    || detail.map { $0.header != details[i].header } ?? false
                let detailWrong = detail.map { $0.manifest != details[i].manifest } ?? true
                let dataWrong = damaged.contains { usage.reads($0.0, at: $0.1) && $0.0.kind != .catalog } || archiveWrong || detailWrong
                let expected = dataWrong || listingWrong
                let listingOnly = !dataWrong
                if listingOnly && listingWrong { listingRefusals += 1 }
                if damaged.contains(where: { $0.0 == .catalogEntry(usage.id) }) && !archiveWrong && !listingWrong { rebuiltEntries += 1 }
                let snapshot = SelectedSnapshot.catalogued(entry, repository: repo)
                let alone = try Verifier.verify(snapshot)
                let beside = try Verifier.verify(snapshot, verifiedParts: shared)
                #expect(alone.ok == !expected, "\(label): snapshot \(i) verified \(alone.ok ? "ok" : "damaged: \(alone.problems)")")
                #expect(beside.ok == alone.ok, "\(label): snapshot \(i) has another verdict beside the others")
                let target = (copy as NSString).appendingPathComponent("plan-\(i).sqlite")
                let plan = try? RestorePlanner.plan(
                    snapshot, target: target, options: RestoreOptions(), busyTimeout: .seconds(1), repository: repo)
                #expect(
                    (plan?.canProceed ?? false) == !dataWrong,
                    "\(label): snapshot \(i)'s plan: \(plan?.findings.map(\.message) ?? ["threw"])")
                let out = (copy as NSString).appendingPathComponent("restore-\(i).sqlite")
                if expected {
                    let names = damaged.map { $0.0.kind == .pack || $0.0.kind == .list ? String($0.0.name.prefix(16)) : $0.0.name }
                    // A piece is named in the problem; the damaged archive itself is the report's `archive`.
                    let own = damaged.contains { $0.0 == usages[i].archive } && alone.archive.contains(usages[i].archive.name)
                    #expect(
                        own || alone.problems.contains { problem in names.contains { problem.contains($0) } },
                        "\(label): snapshot \(i)'s report does not name the piece: \(alone.problems)")
                }
                // Restores read the archive (checked against the catalog's SHA-256 and recorded manifest, as
                // `velo restore` does); a catalog entry whose listing fields alone are wrong does not stop them.
                if expected && !listingOnly {
                    #expect(throws: (any Error).self, "\(label): snapshot \(i) restored") {
                        _ = try NewDatabaseRestore.run(
                            snapshot, manifest: try snapshot.catalogRecord()?.manifest, archiveSHA256: entry.archiveSHA256, to: out)
                    }
                } else {
                    _ = try NewDatabaseRestore.run(
                        snapshot, manifest: try snapshot.catalogRecord()?.manifest, archiveSHA256: entry.archiveSHA256, to: out)
                    #expect(try Self.fingerprint(out) == references[i], "\(label): snapshot \(i) restored other rows")
                }
            }
            checked += 1
        }
        #expect(checked > 40, "\(checked) cases")
        #expect(rebuiltEntries > 0, "\(listingRefusals) listing refusals, \(rebuiltEntries) rebuilt entries")
    }
}
