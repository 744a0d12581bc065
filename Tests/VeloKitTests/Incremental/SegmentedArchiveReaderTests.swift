import Crypto
import Foundation
import Testing
@testable import VeloKit

/// Parts of an incremental snapshot, rebuilt from their frames: handed out in place (`readChunk`) or copied
/// (`read(into:)`), at any buffer size, they are the bytes the manifest checksummed; adjacent segments come out
/// as one run. A version 3 part's checksum is the one docs/FORMAT.md defines, and a segment that does not hash
/// to its list's hash is named.
@Suite struct SegmentedArchiveReaderTests {
    /// Every part of `archive` read by `read`, as (path, bytes, SHA-256, chunks handed out).
    static func parts(of archive: String, read: (SegmentedArchiveReader, UnsafeMutableRawBufferPointer, inout EntryChecksum) throws -> Int,
                      buffer size: Int) throws -> [(path: String, bytes: Int64, sha256: String, chunks: Int)] {
        let reader = try SegmentedArchiveReader(path: archive)
        var buffer = [UInt8](repeating: 0, count: size)
        var result: [(String, Int64, String, Int)] = []
        while let entry = try reader.nextEntry() {
            guard ArchiveFormat.isRowsEntry(entry.path), entry.path != ArchiveFormat.schemaPath else { continue }
            var digest = EntryChecksum(reader)
            var chunks = 0
            while try buffer.withUnsafeMutableBytes({ try read(reader, $0, &digest) }) > 0 { chunks += 1 }
            result.append((entry.path, digest.byteCount, digest.hex(reader), chunks))
        }
        return result
    }

    static func inPlace(_ reader: SegmentedArchiveReader, _ buffer: UnsafeMutableRawBufferPointer, _ digest: inout EntryChecksum) throws -> Int {
        try reader.readChunk(into: buffer) { digest.update($0) }
    }

    static func copied(_ reader: SegmentedArchiveReader, _ buffer: UnsafeMutableRawBufferPointer, _ digest: inout EntryChecksum) throws -> Int {
        let n = try reader.read(into: buffer)
        digest.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        return n
    }

    @Test func partsReadInPlaceOrCopiedAreWhatTheManifestHashed() throws {
        let source = try IncrementalBackupTests.source(posts: 1_500, name: "chunks")
        let repo = try Repository.open(Fixtures.temporaryDirectory("chunks").appendingPathComponent("repo").path, create: true)
        IncrementalBackupTests.settle(source)
        let first = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
        // A scattered update: the second snapshot's parts alternate between the first's frames and new ones.
        try Database(path: source, mode: .readWrite).execute("UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 37 = 0")
        IncrementalBackupTests.settle(source)
        let second = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())

        for result in [first, second] {
            let manifest = try repo.catalog.detail(result.id).manifest
            let expected = Dictionary(manifest.entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            var partCount = 0
            for (name, read) in [("in place", Self.inPlace), ("copied", Self.copied)] as [(String, (SegmentedArchiveReader, UnsafeMutableRawBufferPointer, inout EntryChecksum) throws -> Int)] {
                for size in [1, 777, 64 << 10] {
                    let parts = try Self.parts(of: result.archive, read: read, buffer: size)
                    partCount = parts.count
                    for part in parts {
                        let listed = try #require(expected[part.path], "\(part.path) is not in the manifest")
                        #expect(part.bytes == listed.bytes && part.sha256 == listed.sha256, "\(name), \(size)-byte buffer: \(part.path) differs")
                        if size == 1 { #expect(part.chunks == Int(part.bytes)) }
                    }
                }
            }
            #expect(partCount == manifest.entries.filter { ArchiveFormat.isRowsEntry($0.path) && $0.path != ArchiveFormat.schemaPath }.count)
        }

        // The first snapshot packed each table's segments in order: a 64 KiB part comes out in a chunk or two
        // (one per frame it spans), not one per 2 KiB segment.
        let runs = try Self.parts(of: first.archive, read: Self.inPlace, buffer: 1 << 20)
        let segments = try #require(try SegmentedSnapshot.read(first.archive).segments).tables.flatMap(\.parts).reduce(0) { $0 + $1.segments }
        #expect(runs.reduce(0) { $0 + $1.chunks } * 4 < segments, "\(runs.reduce(0) { $0 + $1.chunks }) chunks for \(segments) segments")
    }

    /// The manifest's checksum of a version 3 part is SHA-256 over the SHA-256(repository id ‖ segment) of its
    /// segments, computed here from the list and the frames alone; an export's manifest has the plain SHA-256.
    @Test func aPartsChecksumIsTheSHA256OfItsSegmentsKeyedHashes() throws {
        let source = try IncrementalBackupTests.source(posts: 600, name: "part-digest")
        let repo = try Repository.open(Fixtures.temporaryDirectory("part-digest").appendingPathComponent("repo").path, create: true)
        IncrementalBackupTests.settle(source)
        let result = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
        let manifest = try repo.catalog.detail(result.id).manifest
        #expect(manifest.version == 3)
        let document = try #require(try SegmentedSnapshot.read(result.archive).segments)
        let key = Array(try #require(try JSONParser.parse(try FileSystem.read(repo.path(Repository.markerFile)))["id"]?.stringValue).utf8)
        let store = PieceStore(root: repo.root)
        let exported = Fixtures.temporaryDirectory("part-digest").appendingPathComponent("export.tar.zst").path
        _ = try SnapshotExport.run(.catalogued(try #require(try repo.catalog.entries().first), repository: repo), out: exported)
        let exportedEntries = Dictionary(try #require(try ArchiveAudit.run(path: exported).manifest).entries.map { ($0.path, $0.sha256) }, uniquingKeysWith: { a, _ in a })
        var checked = 0
        for table in document.tables where !table.parts.isEmpty {
            var list = try store.readList(table.list)
            for part in table.parts {
                var tree = Crypto.SHA256()
                var plain = Crypto.SHA256()
                for _ in 0..<part.segments {
                    let segment = try #require(try list.next())
                    let bytes = Array(try store.frame(list.frames[segment.frame])[segment.offset..<segment.offset + segment.bytes])
                    tree.update(data: Array(Crypto.SHA256.hash(data: key + bytes)))
                    plain.update(data: bytes)
                }
                let listed = try #require(manifest.entries.first { $0.path == part.path })
                #expect(listed.sha256 == SHA256Digest.hex(Array(tree.finalize())), "\(part.path)")
                #expect(exportedEntries[part.path] == SHA256Digest.hex(Array(plain.finalize())), "\(part.path) in the export")
                checked += 1
            }
        }
        #expect(checked >= 10)
    }

    /// A list whose segment hash is not the segment's (here a list rewritten with one hash changed, and the
    /// snapshot made to name it): the audit and a scan name the segment and its list.
    @Test func aSegmentThatDoesNotHashToItsListsHashIsNamed() throws {
        let source = try IncrementalBackupTests.source(posts: 300, name: "segment-hash")
        let repo = try Repository.open(Fixtures.temporaryDirectory("segment-hash").appendingPathComponent("repo").path, create: true)
        IncrementalBackupTests.settle(source)
        let result = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
        let store = PieceStore(root: repo.root)
        var document = try #require(try SegmentedSnapshot.read(result.archive).segments)
        let t = try #require(document.tables.firstIndex { $0.name == "_velo_posts" })
        var list = try store.readList(document.tables[t].list)
        var builder = SegmentListBuilder()
        var index = 0
        while let s = try list.next() {
            index += 1
            builder.append(frame: list.frames[s.frame], offset: s.offset, bytes: s.bytes, rows: s.rows, lastKey: s.lastKey,
                           hash: index == 5 ? (s.hash.0 ^ 1, s.hash.1) : s.hash)
        }
        let bytes = builder.finish()
        let sha = SHA256Digest.of(bytes)
        _ = try store.writeList(bytes, sha256: sha, level: 3)
        document.tables[t].list = sha
        // The same archive with segments.json naming the rewritten list, beside the original in the repository.
        let reader = try ArchiveReader(path: result.archive)
        let forged = (result.archive as NSString).deletingLastPathComponent + "/forged.tar.zst"
        let writer = try ArchiveWriter(path: forged, level: 3, workers: 0)
        while let entry = try reader.nextEntry() {
            var data = try reader.readAll(limit: 16 << 20)
            if entry.path == SegmentFormat.segmentsPath {
                var json = JSONWriter(pretty: true)
                json.write(document.json)
                data = json.bytes
            }
            try writer.addEntry(path: entry.path, bytes: data, modificationTime: 0)
        }
        _ = try writer.finish()
        let audit = try ArchiveAudit.run(path: forged)
        let wanted = "segment 5 of piece \(SegmentFormat.listPath(sha)) does not hash to the hash its list records"
        #expect(audit.problems.contains { $0.reason.contains(wanted) }, "\(audit.problems)")
        #expect(throws: ArchiveDamage.self) { try SnapshotReader(path: forged).scan { _, _ in true } }
    }
}
