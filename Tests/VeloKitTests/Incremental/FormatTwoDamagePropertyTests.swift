import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// A property of format 2 under damage (issue 30): in a generated repository of three incremental snapshots that
/// share pieces, deleting, truncating, flipping a byte of, or swapping any piece (a pack, a segment list, a
/// snapshot's small archive) makes `verify` refuse exactly the snapshots that read the damaged bytes, alone and
/// beside the others (`verify --all`'s shared parts), naming the piece; a restore of those fails, and every other
/// snapshot still restores to what it held. The cases are a seeded sample of every piece and damage.
@Suite struct FormatTwoDamagePropertyTests {
    /// What one snapshot reads: its archive, its lists (and their bases), and the byte ranges of packs its
    /// segments' frames (and their delta bases) occupy.
    struct Usage {
        var archive: StoredName
        var lists: Set<String>
        var ranges: [String: [Range<Int64>]]

        func reads(_ name: StoredName, at damaged: Range<Int64>) -> Bool {
            switch name.kind {
            case .snapshot: return name == archive
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
        var usage = Usage(archive: try repository.archiveName(of: entry), lists: Set(document.listPieces), ranges: [:])
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
            "DELETE FROM _velo_posts WHERE rowid % 11 = 0; UPDATE _velo_posts SET title = title || '!' WHERE rowid % 13 = 0",
        ] {
            if !change.isEmpty { try db.execute(change) }
            _ = try Backup.run(databasePath: source, repository: repository, options: .init())
        }
        let entries = try repository.catalog.entries()
        #expect(entries.count == 3)
        let usages = try entries.map { try Self.usage(of: $0, in: repository) }
        var references: [String] = []
        for (i, entry) in entries.enumerated() {
            let out = dir.appendingPathComponent("reference-\(i).sqlite").path
            _ = try NewDatabaseRestore.run(.catalogued(entry, repository: repository), manifest: nil, archiveSHA256: nil, to: out)
            references.append(try Self.fingerprint(out))
        }
        #expect(Set(references).count == 3, "three different states")

        var pieces: [StoredName] = []
        for kind in [StoredKind.snapshot, .list, .pack] { try repository.storage.list(kind) { name, _ in pieces.append(name) } }
        pieces.sort { $0.relativePath < $1.relativePath }
        var random = SeededRandom(seed: 30)
        var cases: [(StoredName, Damage)] = pieces.flatMap { piece in Damage.allCases.map { (piece, $0) } }
        // Every snapshot archive and every pack with each damage; a sample of the lists (there are dozens).
        cases = cases.filter { $0.0.kind != .list || random.below(4) == 0 }
        var checked = 0
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
                flipped[at] ^= 0x5A
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
            let shared = VerifiedParts()
            for (i, entry) in try repo.catalog.entries().enumerated() {
                let expected = damaged.contains { usages[i].reads($0.0, at: $0.1) }
                let snapshot = SelectedSnapshot.catalogued(entry, repository: repo)
                let alone = try Verifier.verify(snapshot)
                let beside = try Verifier.verify(snapshot, verifiedParts: shared)
                #expect(alone.ok == !expected, "\(label): snapshot \(i) verified \(alone.ok ? "ok" : "damaged: \(alone.problems)")")
                #expect(beside.ok == alone.ok, "\(label): snapshot \(i) has another verdict beside the others")
                let out = (copy as NSString).appendingPathComponent("restore-\(i).sqlite")
                if expected {
                    let names = damaged.map { $0.0.kind == .snapshot ? $0.0.name : String($0.0.name.prefix(16)) }
                    // A piece is named in the problem; the damaged archive itself is the report's `archive`.
                    let own = damaged.contains { $0.0 == usages[i].archive } && alone.archive.contains(usages[i].archive.name)
                    #expect(
                        own || alone.problems.contains { problem in names.contains { problem.contains($0) } },
                        "\(label): snapshot \(i)'s report does not name the piece: \(alone.problems)")
                    #expect(throws: (any Error).self, "\(label): snapshot \(i) restored") {
                        _ = try NewDatabaseRestore.run(snapshot, manifest: nil, archiveSHA256: entry.archiveSHA256, to: out)
                    }
                } else {
                    _ = try NewDatabaseRestore.run(snapshot, manifest: nil, archiveSHA256: entry.archiveSHA256, to: out)
                    #expect(try Self.fingerprint(out) == references[i], "\(label): snapshot \(i) restored other rows")
                }
            }
            checked += 1
        }
        #expect(checked > 30, "\(checked) cases")
    }
}
