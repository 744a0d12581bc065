import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// `velo verify --read-subset`: the groups n/t split the data of the segment lists so that together they read
/// all of it; damage in a pack is found by the group that reads it (and by a full verify); a sound partial read
/// is not recorded as a verification, damage is.
@Suite struct ReadSubsetTests {
    @Test func theGroupsReadEveryListOnceAndTheOneHoldingDamageFindsIt() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 600)
        let repository = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        _ = try Backup.run(databasePath: source, repository: repository, options: .init())
        try Database(path: source, mode: .readWrite).execute("UPDATE _velo_posts SET title = title || '!' WHERE rowid % 5 = 0")
        _ = try Backup.run(databasePath: source, repository: repository, options: .init())
        let entries = try repository.catalog.entries()

        // Sound: each group reads some data and trusts the rest; nothing is recorded in the catalog.
        var listsRead = Set<String>()
        for n in 1...3 {
            let subset = try ReadSubset("\(n)/3")
            let parts = VerifiedParts(subset: subset)
            for entry in entries {
                let report = try Verifier.verify(.catalogued(entry, repository: repository), verifiedParts: parts)
                #expect(report.ok && report.readSubset == "\(n)/3", "\(report.problems)")
            }
            listsRead.formUnion(subset.decided.filter(\.value).keys)
            #expect(subset.decided.values.contains(false) || n == 3, "a third of the lists is outside group \(n)")
        }
        let allLists = Set(
            try entries.flatMap {
                try SegmentedSnapshot.read($0, in: repository).segments?.allTables.filter { $0.segments > 0 }.map(\.list) ?? []
            })
        #expect(allLists.isSubset(of: listsRead), "every list's data is read by one of the groups")
        #expect(try repository.catalog.entries().allSatisfy { $0.verification == nil }, "a sound partial read is not a verification")

        // Damage in the middle of the largest pack: the full verify finds it, and so does a group that reads it.
        var largest: (StoredName, Int64)?
        try repository.storage.list(.pack) { name, info in if info.size > (largest?.1 ?? 0) { largest = (name, info.size) } }
        let pack = try #require(largest)
        let path = dir.appendingPathComponent("repo").appendingPathComponent(pack.0.relativePath).path
        var bytes = try FileSystem.read(path)
        bytes[bytes.count / 2] ^= 0x55
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let full = try Verifier.verify(.catalogued(entries[0], repository: repository), verifiedParts: VerifiedParts())
        #expect(!full.ok)
        var groupsFinding = 0
        for n in 1...3 {
            let parts = VerifiedParts(subset: try ReadSubset("\(n)/3"))
            if !(try Verifier.verify(.catalogued(entries[0], repository: repository), verifiedParts: parts)).ok { groupsFinding += 1 }
        }
        #expect(groupsFinding >= 1, "the damaged data is in some group")
        #expect(try repository.catalog.entry(entries[0].id)?.verification?.ok == false, "damage found by a partial read is recorded")
    }

    @Test func subsetsParseAsRestic() throws {
        for good in ["1/7", "7/7", "5%", "100%", "0.5%", "500M", "2G", "800K", "1024"] { _ = try ReadSubset(good) }
        for bad in ["0/7", "8/7", "1/0", "0%", "101%", "M", "-5M", "five", "1/", "/7"] {
            #expect(throws: VeloError.self, "\(bad)") { try ReadSubset(bad) }
        }
        let budget = try ReadSubset("1K")
        #expect(budget.includes(list: "aa", bytes: 800) && budget.includes(list: "bb", bytes: 800))
        #expect(!budget.includes(list: "cc", bytes: 800), "the budget is spent")
        #expect(budget.includes(list: "aa", bytes: 800), "a list keeps its answer")
    }
}
