import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct FileEntryPathTests {
    @Test func namesRoundTripThroughTheSafeAlphabet() throws {
        for relative in ["uploads/collections/posts/4f3a.png", "uploads/a b/ü 100%.JPG", "uploads/.hidden", "uploads/x..y"] {
            let entry = try #require(ArchiveFormat.fileEntryPath(relative: relative))
            #expect(entry.hasPrefix("files/"))
            #expect(
                entry.utf8.allSatisfy {
                    $0 < 0x80
                        && ($0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                            || $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0)
                            || (0x61...0x7A).contains($0))
                })
            #expect(ArchiveFormat.fileRelativePath(entry: entry) == relative)
        }
    }

    @Test func pathsThatLeaveTheirFolderAreRefusedBothWays() {
        for relative in ["", "/etc/passwd", "uploads/../x", "uploads/./x", "uploads//x", "uploads/x/"] {
            #expect(ArchiveFormat.fileEntryPath(relative: relative) == nil, "\(relative)")
        }
        for entry in [
            "files/", "files/%2E%2E/x", "files/uploads/%2e", "files/a%2Fb", "files/a%00b", "files/a%2", "files/a%zz",
            "files/../x", "files//x", "files/%FF", "records/x",
        ] {
            #expect(ArchiveFormat.fileRelativePath(entry: entry) == nil, "\(entry)")
        }
    }

    @Test func fileEntriesAreNotRowsAndMayBeLargerThanAPart() {
        #expect(!ArchiveFormat.isRowsEntry("files/uploads/export.ndjson"))
        #expect(ArchiveFormat.isRowsEntry("records/_velo_posts/000001.ndjson"))
        #expect(ArchiveFormat.maxEntryBytes("files/uploads/big.mp4") == ArchiveFormat.maxFileEntryBytes)
        #expect(ArchiveFormat.maxEntryBytes("records/t/000001.ndjson") == Int64(ArchiveFormat.maxDataEntryBytes))
    }
}
