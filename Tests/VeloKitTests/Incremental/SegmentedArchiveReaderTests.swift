import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Parts of an incremental snapshot, rebuilt from their frames: handed out in place (`readChunk`) or copied
/// (`read(into:)`), at any buffer size, they are the bytes the manifest hashed; adjacent segments come out as
/// one run.
@Suite struct SegmentedArchiveReaderTests {
    /// Every part of `archive` read by `read`, as (path, bytes, SHA-256, chunks handed out).
    static func parts(
        of archive: String, read: (SegmentedArchiveReader, UnsafeMutableRawBufferPointer, inout SHA256Digest) throws -> Int,
        buffer size: Int
    ) throws -> [(path: String, bytes: Int64, sha256: String, chunks: Int)] {
        let reader = try SegmentedArchiveReader(path: archive)
        var buffer = [UInt8](repeating: 0, count: size)
        var result: [(String, Int64, String, Int)] = []
        while let entry = try reader.nextEntry() {
            guard ArchiveFormat.isRowsEntry(entry.path), entry.path != ArchiveFormat.schemaPath else { continue }
            var digest = SHA256Digest()
            var chunks = 0
            while try buffer.withUnsafeMutableBytes({ try read(reader, $0, &digest) }) > 0 { chunks += 1 }
            result.append((entry.path, digest.byteCount, digest.hex(), chunks))
        }
        return result
    }

    static func inPlace(
        _ reader: SegmentedArchiveReader, _ buffer: UnsafeMutableRawBufferPointer, _ digest: inout SHA256Digest
    ) throws -> Int {
        try reader.readChunk(into: buffer) { digest.update($0) }
    }

    static func copied(
        _ reader: SegmentedArchiveReader, _ buffer: UnsafeMutableRawBufferPointer, _ digest: inout SHA256Digest
    ) throws -> Int {
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
            for (name, read) in [("in place", Self.inPlace), ("copied", Self.copied)]
                as [(String, (SegmentedArchiveReader, UnsafeMutableRawBufferPointer, inout SHA256Digest) throws -> Int)]
            {
                for size in [1, 777, 64 << 10] {
                    let parts = try Self.parts(of: result.archive, read: read, buffer: size)
                    partCount = parts.count
                    for part in parts {
                        let listed = try #require(expected[part.path], "\(part.path) is not in the manifest")
                        #expect(
                            part.bytes == listed.bytes && part.sha256 == listed.sha256, "\(name), \(size)-byte buffer: \(part.path) differs"
                        )
                        if size == 1 { #expect(part.chunks == Int(part.bytes)) }
                    }
                }
            }
            #expect(
                partCount == manifest.entries.filter { ArchiveFormat.isRowsEntry($0.path) && $0.path != ArchiveFormat.schemaPath }.count)
        }

        // The first snapshot packed each table's segments in order: a 64 KiB part comes out in a chunk or two
        // (one per frame it spans), not one per 2 KiB segment.
        let runs = try Self.parts(of: first.archive, read: Self.inPlace, buffer: 1 << 20)
        let segments = try #require(try SegmentedSnapshot.read(first.archive).segments).tables.flatMap(\.parts).reduce(0) {
            $0 + $1.segments
        }
        #expect(runs.reduce(0) { $0 + $1.chunks } * 4 < segments, "\(runs.reduce(0) { $0 + $1.chunks }) chunks for \(segments) segments")
    }

    /// After six scattered updates a table's segments interleave seven streams of frames (the first backup's and
    /// each update's); the reader keeps a frame per stream and reads each frame once, not once per switch.
    @Test func afterSixScatteredUpdatesEachFrameIsReadOnce() throws {
        let source = try IncrementalBackupTests.source(posts: 6_000, name: "streams")
        let folder = Fixtures.temporaryDirectory("streams").appendingPathComponent("repo").path
        let repo = try Repository.open(folder, create: true)
        IncrementalBackupTests.settle(source)
        var last = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
        for update in 1...6 {
            try Database(path: source, mode: .readWrite).execute(
                "UPDATE _velo_posts SET title = title || ' (edited \(update))' WHERE rowid % 100 = \(update)")
            IncrementalBackupTests.settle(source)
            last = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
        }
        let packs = try FileManager.default.subpathsOfDirectory(atPath: folder + "/data/packs").filter { $0.hasSuffix(".pack") }
        let stored = try packs.reduce(Int64(0)) {
            $0 + ((try FileManager.default.attributesOfItem(atPath: folder + "/data/packs/" + $1)[.size] as? Int64) ?? 0)
        }
        #expect(packs.count == 7)

        let reader = try SegmentedArchiveReader(path: last.archive)
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while try reader.nextEntry() != nil { while try buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }) > 0 {} }
        #expect(
            reader.frameBytesRead > 0 && reader.frameBytesRead <= stored, "\(reader.frameBytesRead) bytes of frames read, \(stored) stored")
    }
}
