import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct TemporaryFileTests {
    @Test(arguments: [
        (".abc.json.tmp-123", Int32(123)), ("exclusive.json.new-45", 45), ("t.sqlite.velo-restore-6", 6),
        ("t.sqlite.velo-restore-6-journal", 6), ("p.json.velo-789.sqlite", 789), ("p.json.velo-789.sqlite-wal", 789),
    ])
    func readsTheWritersPID(name: String, pid: Int32) {
        #expect(TemporaryFile.ownerPID(name) == pid)
    }

    @Test(arguments: ["catalog.json", "t.sqlite", "p.json.velo-x.sqlite", "a.tmp-", "notes.velo-12.txt"])
    func leavesOtherNamesAlone(name: String) {
        #expect(TemporaryFile.ownerPID(name) == nil)
        #expect(!TemporaryFile.isLitter(name))
    }
}
