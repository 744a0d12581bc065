import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct FilesDiffTests {
    func manifest(_ files: [(String, String)]) -> Manifest {
        Manifest(
            snapshotID: "0000000000000001",
            entries: [Manifest.Entry(path: "velo-snapshot.json", bytes: 1, sha256: String(repeating: "0", count: 64))]
                + files.map { Manifest.Entry(path: $0.0, bytes: 1, sha256: String(repeating: $0.1, count: 64), mode: 0o644, modified: 0) },
            tables: [])
    }

    @Test func filesAreAddedRemovedOrChangedByPathAndContent() throws {
        let a = manifest([("files/uploads/same", "a"), ("files/uploads/gone", "b"), ("files/uploads/edited", "c")])
        let b = manifest([("files/uploads/same", "a"), ("files/uploads/edited", "d"), ("files/uploads/new%20one", "e")])
        let diff = try #require(FilesDiff(a, b))
        #expect(diff.added == ["uploads/new one"] && diff.removed == ["uploads/gone"] && diff.changed == ["uploads/edited"])
        #expect(diff.unchanged == 1)
        #expect(FilesDiff(manifest([]), manifest([])) == nil)
    }
}
