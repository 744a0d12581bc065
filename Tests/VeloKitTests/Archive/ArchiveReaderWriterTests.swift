import Foundation
import Testing
@testable import VeloKit

@Suite struct ArchiveReaderWriterTests {
    @Test(arguments: [Int32(0), 1, 2, 3])
    func writesAndReadsEntriesWithChecksums(workers: Int32) throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("a.tar.zst").path
        let writer = try ArchiveWriter(path: path, level: 3, workers: workers)
        var random = SeededRandom(seed: 9)
        let big = (0..<3_000_000).map { _ in UInt8(truncatingIfNeeded: random.next() % 7) }
        let first = try writer.addEntry(path: "one.txt", bytes: Array("hello".utf8), modificationTime: 0)
        let second = try writer.addEntry(path: "dir/two.bin", bytes: big, modificationTime: 0)
        let done = try writer.finish()
        #expect(first.sha256 == SHA256Digest.of(Array("hello".utf8)))
        #expect(second.bytes == Int64(big.count))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let reader = try ArchiveReader(path: path)
        #expect(try reader.nextEntry()?.path == "one.txt")
        #expect(try reader.readAll() == Array("hello".utf8))
        let entry = try #require(try reader.nextEntry())
        #expect(entry.path == "dir/two.bin" && entry.kind == "file" && entry.size == Int64(big.count))
        #expect(try reader.readAll() == big)
        #expect(try reader.nextEntry() == nil)
        let end = try reader.finishReading()
        #expect(end.bytes == done.bytes && end.sha256 == done.sha256)
    }

    @Test func abortDeletesTheFile() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("b.tar.zst").path
        let writer = try ArchiveWriter(path: path)
        try writer.addEntry(path: "x", bytes: [1, 2, 3], modificationTime: 0)
        writer.abort()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func refusesToOverwrite() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("c.tar.zst").path
        FileManager.default.createFile(atPath: path, contents: Data([1]))
        #expect(throws: VeloError.self) { try ArchiveWriter(path: path) }
    }

    @Test func partPathsCannotEscapeTheirFolder() {
        #expect(ArchiveFormat.partPath(group: .records, table: "_velo_posts", part: 3) == "records/_velo_posts/000003.ndjson")
        #expect(ArchiveFormat.escape("../etc/passwd") == "%2E%2E%2Fetc%2Fpasswd")
        #expect(ArchiveFormat.escape("a b\"c") == "a%20b%22c")
    }
}
