import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Lists written on their own thread: all of them durable when `finish` returns, in the store under their
/// names; a failed write is reported by `finish`, and later ones are not attempted.
@Suite struct SegmentListWritesTests {
    @Test func listsAreStoredByFinishAndTheirBytesCounted() throws {
        let root = Fixtures.temporaryDirectory("list-writes").path
        let store = PieceStore(root: root)
        let writes = SegmentListWrites(store: store, level: 3)
        let lists = (0..<20).map { i in [UInt8](repeating: UInt8(i), count: 1000 + i) }
        for list in lists { try writes.submit(list, sha256: SHA256Digest.of(list)) }
        try writes.submit(lists[0], sha256: SHA256Digest.of(lists[0]))  // the same list twice: written once
        let written = try writes.finish()
        var expected: Int64 = 0
        for list in lists {
            let path = store.path(SegmentFormat.listPath(SHA256Digest.of(list)))
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber).int64Value
            expected += size
        }
        #expect(written == expected)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: root).allSatisfy { !$0.contains(".tmp-") })
    }

    @Test func aFailedWriteIsReportedByFinish() throws {
        let root = Fixtures.temporaryDirectory("list-writes-fail").path
        try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
        // A file where the lists' folder should be: no list can be stored.
        FileManager.default.createFile(atPath: root + "/" + SegmentFormat.listsFolder, contents: Data([1]))
        let writes = SegmentListWrites(store: PieceStore(root: root), level: 3)
        try writes.submit([1, 2, 3], sha256: SHA256Digest.of([1, 2, 3]))
        writes.drain()
        // The failure is reported by the next submit and by finish; nothing more is queued.
        #expect(throws: (any Error).self) { try writes.submit([4, 5, 6], sha256: SHA256Digest.of([4, 5, 6])) }
        #expect(throws: (any Error).self) { try writes.finish() }
        #expect(!FileManager.default.fileExists(atPath: PieceStore(root: root).path(SegmentFormat.listPath(SHA256Digest.of([4, 5, 6])))))
    }
}
