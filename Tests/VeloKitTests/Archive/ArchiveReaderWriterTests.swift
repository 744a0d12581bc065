import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

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

    /// An entry streamed in chunks is the entry written whole; a producer that hands over fewer or more bytes
    /// than the size the tar header was written with is refused.
    @Test func streamedEntriesHoldExactlyTheirSize() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("s.tar.zst").path
        let writer = try ArchiveWriter(path: path)
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let entry = try writer.addEntry(path: "part", size: Int64(bytes.count), modificationTime: 0, source: "test") { write in
            try bytes.withUnsafeBytes { raw in
                for start in stride(from: 0, to: raw.count, by: 7_777) {
                    try write(UnsafeRawBufferPointer(rebasing: raw[start..<min(start + 7_777, raw.count)]))
                }
            }
        }
        #expect(entry.sha256 == SHA256Digest.of(bytes) && entry.bytes == Int64(bytes.count))
        _ = try writer.finish()
        let reader = try ArchiveReader(path: path)
        #expect(try reader.nextEntry()?.size == Int64(bytes.count))
        #expect(try reader.readAll() == bytes)

        for (size, produced) in [(10, 9), (10, 11)] {
            let other = try ArchiveWriter(path: dir.appendingPathComponent("short-\(produced).tar.zst").path)
            #expect(throws: VeloError.self) {
                try other.addEntry(path: "part", size: Int64(size), modificationTime: 0, source: "test") { write in
                    try [UInt8](repeating: 1, count: produced).withUnsafeBytes { try write($0) }
                }
            }
            other.abort()
        }
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
