import CZstd
import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// Issue 30's holes in format 2, each damage done as the fault suite did it and the promise checked: a missing
/// list of an empty table is damage; a snapshot's verdict does not depend on what is verified beside it; a list
/// bomb is refused within the memory bound; a killed export leaves nothing the next one keeps.
@Suite struct FormatTwoDamageCommandTests {
    struct Setup {
        var dir: URL
        var db: String
        var repo: String
        var id: String

        init(_ name: String = #function) throws {
            dir = Scratch.directory(name)
            db = dir.appendingPathComponent("tenant.sqlite").path
            repo = dir.appendingPathComponent("repo").path
            #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "60"]).status == 0)
            let backup = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--json"])
            #expect(backup.status == 0, "\(backup.stderr)")
            id = try #require(try JSONParser.parse(backup.stdout)["id"]?.stringValue)
        }

        var repository: Repository { get throws { try Repository.open(repo) } }

        /// The snapshot's segments document.
        func document() throws -> SegmentsDocument {
            let repository = try repository
            let entry = try #require(repository.catalog.entry(id))
            return try #require(try SegmentedSnapshot.read(entry, in: repository).segments)
        }

        /// The archive file of the snapshot.
        func archive() throws -> String {
            let repository = try repository
            return repository.path(try #require(repository.catalog.entry(id)).archive)
        }

        /// Rewrites the snapshot's `segments.json` with `edit` applied, and makes the manifest and the catalog
        /// agree, so that only the checks against the pieces can see it.
        func editSegments(_ edit: (inout [String: Any]) -> Void) throws {
            let archive = try archive()
            var entries = try ArchiveSurgery.entries(of: archive)
            let index = try #require(entries.firstIndex { $0.path == SegmentFormat.segmentsPath })
            var json = try JSONSerialization.jsonObject(with: Data(entries[index].bytes)) as! [String: Any]
            edit(&json)
            let bytes = Array(try JSONSerialization.data(withJSONObject: json))
            let manifest = try #require(entries.first { $0.path == ArchiveFormat.manifestPath })
            if String(decoding: manifest.bytes, as: UTF8.self).contains("\"\(SegmentFormat.segmentsPath)\"") {
                try ArchiveSurgery.replace(&entries, SegmentFormat.segmentsPath, with: bytes)
            } else {
                entries[index].bytes = bytes  // not one of the manifest's entries: nothing there to agree
            }
            try ArchiveSurgery.write(entries, to: archive)
            try ArchiveSurgery.recatalog(repo: repo, id: id, archive: archive, manifest: true)
        }
    }

    /// Hole 1: deleting the list of an empty table is damage of the snapshot, for `verify ID` and `verify --all`.
    @Test func aMissingListOfAnEmptyTableIsDamage() throws {
        let s = try Setup()
        let empty = try #require(try s.document().allTables.first { $0.parts.isEmpty }, "the demo has an empty table")
        let piece = SegmentFormat.listPath(empty.list)
        try FileManager.default.removeItem(atPath: try s.repository.path(piece))
        for arguments in [["verify", s.id], ["verify", "--all"]] {
            let verify = try VeloProcess.run(arguments + ["--repo", s.repo])
            #expect(verify.status == 3, "\(arguments): \(verify.stdout)\(verify.stderr)")
            #expect((verify.stdout + verify.stderr).contains(piece), "\(arguments) names the piece: \(verify.stdout)")
        }
        let restore = try VeloProcess.run(["restore", s.id, "--repo", s.repo, "--target", s.dir.appendingPathComponent("out.sqlite").path])
        #expect(restore.status == 3, "\(restore.stderr)")
    }

    /// Hole 2: a part's rows edited in `segments.json` (the manifest and catalog made to agree) is damage whether
    /// the snapshot is verified alone or beside another that shares the part.
    @Test func oneSnapshotHasOneVerdictWhateverIsVerifiedBesideIt() throws {
        let s = try Setup()
        // A second snapshot of the unchanged source shares every part; the first one is the one damaged.
        #expect(try VeloProcess.run(["backup", "--db", s.db, "--repo", s.repo]).status == 0)
        try s.editSegments { json in
            var tables = json["tables"] as! [[String: Any]]
            let t = tables.firstIndex { ($0["parts"] as! [[String: Any]]).contains { ($0["rows"] as! Int) > 1 } }!
            var parts = tables[t]["parts"] as! [[String: Any]]
            let p = parts.firstIndex { ($0["rows"] as! Int) > 1 }!
            parts[p]["rows"] = (parts[p]["rows"] as! Int) + 1
            tables[t]["parts"] = parts
            json["tables"] = tables
        }
        // The manifest's rows of that part are left as they were: only the pieces can tell.
        for arguments in [["verify", s.id], ["verify", "--all"]] {
            let verify = try VeloProcess.run(arguments + ["--repo", s.repo])
            #expect(verify.status == 3, "\(arguments): \(verify.stdout)\(verify.stderr)")
        }
        let restore = try VeloProcess.run(["restore", s.id, "--repo", s.repo, "--target", s.dir.appendingPathComponent("out.sqlite").path])
        #expect(restore.status == 3, "\(restore.stderr)")
    }

    /// Hole 3: a list that decompresses to 256 MB of zeros, named by the snapshot, is refused by every reader
    /// within the read bound (64 MiB), not after decompressing it.
    @Test func aListBombIsRefusedWithinTheMemoryBound() throws {
        let s = try Setup()
        // 256 MB of zeros, compressed in one zstd frame that declares its size, stored under its SHA-256.
        var compressed: [UInt8] = []
        var digest = SHA256Digest()
        let context = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(context) }
        _ = ZSTD_CCtx_setPledgedSrcSize(context, 256 << 20)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var out = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        for chunk in 0..<256 {
            try zeros.withUnsafeBytes { source in
                digest.update(source)
                var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
                var remaining = 1
                while input.pos < input.size || (chunk == 255 && remaining != 0) {
                    remaining = try out.withUnsafeMutableBytes { buffer in
                        var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                        let code = ZSTD_compressStream2(context, &output, &input, chunk == 255 ? ZSTD_e_end : ZSTD_e_continue)
                        guard ZSTD_isError(code) == 0 else { throw VeloError("zstd failed") }
                        compressed.append(contentsOf: buffer[0..<output.pos])
                        return code
                    }
                    if chunk != 255 && input.pos == input.size { break }
                }
            }
        }
        let sha = digest.hex()
        let repository = try s.repository
        try repository.storage.save(.list(sha), compressed)
        let victim = try #require(try s.document().allTables.first { !$0.parts.isEmpty }).list
        try s.editSegments { json in
            var tables = json["tables"] as! [[String: Any]]
            for i in tables.indices where tables[i]["list"] as? String == victim { tables[i]["list"] = sha }
            json["tables"] = tables
        }
        let target = s.dir.appendingPathComponent("out.sqlite").path
        for arguments in [
            ["verify", s.id, "--repo", s.repo], ["cat", s.id, "_velo_posts", "--repo", s.repo],
            ["restore", s.id, "--repo", s.repo, "--target", target],
        ] {
            let (result, peak) = try VeloProcess.runMeasured(arguments)
            #expect(result.status == 3, "\(arguments): \(result.stdout)\(result.stderr)")
            #expect(peak < 64, "\(arguments) peaked at \(peak) MiB")
        }
        // Prune's mark phase reads the same list (within the same bound) and frees nothing it cannot account for.
        let policy = s.dir.appendingPathComponent("all.json").path
        try "{\"keep_last\": 5}".write(toFile: policy, atomically: true, encoding: .utf8)
        let (prune, peak) = try VeloProcess.runMeasured(["prune", "--repo", s.repo, "--policy", policy, "--dry-run"])
        #expect(peak < 64, "prune peaked at \(peak) MiB: \(prune.stderr)")
        #expect(prune.stderr.contains(SegmentFormat.listPath(sha)), "prune names the list it cannot read: \(prune.stderr)")
    }

    /// Hole 4: what a killed `velo export` left beside its output is removed by the next export of that file.
    @Test func aKilledExportLeavesNothingTheNextOneKeeps() throws {
        let s = try Setup()
        let out = s.dir.appendingPathComponent("full.tar.zst").path
        // A dead writer's temporary: pid 2^22 + 1 is above Linux's default pid_max.
        let litter = s.dir.appendingPathComponent(".full.tar.zst.tmp-4194305").path
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: litter))
        let export = try VeloProcess.run(["export", s.id, "--repo", s.repo, "--out", out])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(!FileManager.default.fileExists(atPath: litter))
        #expect(try VeloProcess.run(["verify", out]).status == 0)
    }

    /// A catalog entry edited so that its JSON still parses (a row count) is named by `verify`, which holds every
    /// entry to its archive; the restore goes by the archive, which is sound; and removing the entry is the repair
    /// the message gives: the next backup catalogues the snapshot again from its archive.
    @Test func aCatalogEntryThatDisagreesWithItsArchiveIsNamedAndRepairable() throws {
        let s = try Setup()
        let entryPath = try s.repository.path(StoredName.catalogEntry(s.id).relativePath)
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: entryPath))) as! [String: Any]
        var rows = json["rows"] as! [String: Int]
        rows["_velo_posts", default: 0] += 1
        json["rows"] = rows
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: entryPath))
        let verify = try VeloProcess.run(["verify", s.id, "--repo", s.repo])
        #expect(verify.status == 3, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("catalog/\(s.id).json: the catalog entry's rows disagree with the archive"), "\(verify.stdout)")
        let target = s.dir.appendingPathComponent("out.sqlite").path
        let restore = try VeloProcess.run(["restore", s.id, "--repo", s.repo, "--target", target])
        #expect(restore.status == 0, "\(restore.stderr)")
        try FileManager.default.removeItem(atPath: entryPath)
        #expect(try VeloProcess.run(["backup", "--db", s.db, "--repo", s.repo]).status == 0)
        let all = try VeloProcess.run(["verify", "--all", "--repo", s.repo])
        #expect(all.status == 0 && all.stdout.contains(SnapshotID.short(s.id)), "\(all.stdout)\(all.stderr)")
    }

    /// The memory bounds under damage (the property test in VeloKitTests checks the verdicts in-process): each
    /// kind of piece a snapshot reads, deleted, truncated, flipped or swapped, is refused by `verify`, `plan` and
    /// `restore` within 64 MiB (reads) and 128 MiB (restores).
    @Test func damagedPiecesAreRefusedWithinTheMemoryBounds() throws {
        let s = try Setup()
        let document = try s.document()
        let table = try #require(document.allTables.first { !$0.parts.isEmpty })
        let repository = try s.repository
        var list = try PieceStore(storage: repository.storage).readList(table.list, segments: table.segments)
        let pack = try #require(list.frames.first?.pack)
        _ = try list.next()
        let other = try #require(document.allTables.first { $0.list != table.list && !$0.parts.isEmpty })
        let pieces: [(String, String)] = [
            (SegmentFormat.listPath(table.list), SegmentFormat.listPath(other.list)),
            (SegmentFormat.packPath(pack), SegmentFormat.listPath(other.list)),
            (try repository.archiveName(of: try #require(repository.catalog.entry(s.id))).relativePath, SegmentFormat.listPath(other.list)),
        ]
        let target = s.dir.appendingPathComponent("out.sqlite").path
        for (n, (piece, partner)) in pieces.enumerated() {
            for damage in ["delete", "truncate", "flip", "swap"] {
                let repo = s.dir.appendingPathComponent("repo-\(n)-\(damage)").path
                try FileManager.default.copyItem(atPath: s.repo, toPath: repo)
                let file = (repo as NSString).appendingPathComponent(piece)
                var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
                switch damage {
                case "delete": try FileManager.default.removeItem(atPath: file)
                case "truncate": bytes.removeLast(bytes.count / 2)
                case "flip": bytes[bytes.count / 2] ^= 0x5A
                default:
                    let partnerFile = (repo as NSString).appendingPathComponent(partner)
                    let partnerBytes = try Data(contentsOf: URL(fileURLWithPath: partnerFile))
                    try Data(bytes).write(to: URL(fileURLWithPath: partnerFile))
                    bytes = [UInt8](partnerBytes)
                }
                if damage != "delete" { try Data(bytes).write(to: URL(fileURLWithPath: file)) }
                for (arguments, bound) in [
                    (["verify", "--all"], 64), (["plan", s.id, "--target", target], 64), (["restore", s.id, "--target", target], 128),
                ] {
                    let (result, peak) = try VeloProcess.runMeasured(arguments + ["--repo", repo])
                    #expect(result.status == 3, "\(damage) \(piece): \(arguments[0]): \(result.stdout)\(result.stderr)")
                    #expect(peak < Double(bound), "\(damage) \(piece): \(arguments[0]) peaked at \(peak) MiB")
                }
                #expect(!FileManager.default.fileExists(atPath: target), "\(damage) \(piece): a refused restore left a target")
            }
        }
    }
}
