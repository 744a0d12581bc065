import Foundation
import Synchronization
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// What every `RepositoryStorage` must do, written once and run against each implementation (the local folder
/// here; an object store's suite calls the same checks with its own factory). Each check gets an empty storage.
enum StorageConformance {
    /// Every check, by name, for a `@Test(arguments:)`.
    nonisolated(unsafe) static let checks: [(String, (any RepositoryStorage) throws -> Void)] = [
        ("saved objects load back, by kind", savedObjectsLoadBack),
        ("save replaces, saveIfAbsent does not", saveReplacesSaveIfAbsentDoesNot),
        ("a missing object is a typed error", aMissingObjectIsATypedError),
        ("ranges read exactly, short reads fail", rangesReadExactly),
        ("a streamed object appears only on commit", aStreamedObjectAppearsOnlyOnCommit),
        ("list names each kind's objects only", listNamesEachKindsObjectsOnly),
        ("remove is idempotent", removeIsIdempotent),
        ("of concurrent saveIfAbsent exactly one wins", ofConcurrentCreatorsExactlyOneWins),
        ("names outside the layout are refused", namesOutsideTheLayoutAreRefused),
        ("an empty object is an object", anEmptyObjectIsAnObject),
        ("removeIfUnchanged removes only what it was shown", removeIfUnchangedRemovesOnlyWhatItWasShown),
        ("of concurrent stale-lock takers exactly one wins", ofConcurrentStaleLockTakersExactlyOneWins),
        ("a change stamp moves with every change", aChangeStampMovesWithEveryChange),
        ("scratch files are removed", scratchFilesAreRemoved),
    ]

    static let pack = StoredName.pack(String(repeating: "ab", count: 32))
    static let list = StoredName.list(String(repeating: "0f", count: 32))
    static let snapshot = StoredName(.snapshot, "20261206T105830Z-0123456789abcdef")
    static let entry = StoredName(.catalog, "0123456789abcdef.json")

    static func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    static func savedObjectsLoadBack(_ storage: any RepositoryStorage) throws {
        for (i, name) in [
            pack, list, snapshot, entry, StoredName(.lock, "exclusive.json"), StoredName(.trash, "x.json"),
            StoredName.sweepMarker, StoredName(.config, "velo-repository.json"),
        ].enumerated() {
            let data = bytes(1000 + i * 77, seed: UInt64(i))
            try storage.save(name, data)
            #expect(try storage.load(name) == data, "\(name)")
            #expect(try storage.stat(name)?.size == Int64(data.count), "\(name)")
        }
    }

    static func saveReplacesSaveIfAbsentDoesNot(_ storage: any RepositoryStorage) throws {
        #expect(try storage.saveIfAbsent(entry, [1, 2, 3]))
        #expect(try storage.saveIfAbsent(entry, [9]) == false)
        #expect(try storage.load(entry) == [1, 2, 3])
        try storage.save(entry, [4, 5])
        #expect(try storage.load(entry) == [4, 5])
    }

    static func aMissingObjectIsATypedError(_ storage: any RepositoryStorage) throws {
        #expect(throws: StorageError.missing(pack, location: storage.location)) { try storage.load(pack) }
        #expect(throws: StorageError.missing(pack, location: storage.location)) { try storage.open(pack) }
        #expect(try storage.stat(pack) == nil)
    }

    static func rangesReadExactly(_ storage: any RepositoryStorage) throws {
        let data = bytes(3 << 20)
        try storage.save(pack, data)
        let reader = try storage.open(pack)
        #expect(reader.size == Int64(data.count))
        for (offset, count) in [(0, 1), (12_345, 1 << 20), (data.count - 10, 10), (7, 0)] {
            #expect(try reader.read(at: Int64(offset), count: count) == Array(data[offset..<offset + count]))
        }
        #expect(throws: StorageError.self) { try reader.read(at: Int64(data.count - 5), count: 10) }
    }

    static func aStreamedObjectAppearsOnlyOnCommit(_ storage: any RepositoryStorage) throws {
        let writer = try storage.create(pack)
        let data = bytes(5 << 20)
        for chunk in stride(from: 0, to: data.count, by: 1 << 20) { try writer.write(Array(data[chunk..<chunk + (1 << 20)])) }
        #expect(writer.bytesWritten == Int64(data.count))
        #expect(try storage.stat(pack) == nil, "not visible before commit")
        var listed: [StoredName] = []
        try storage.list(.pack) { name, _ in listed.append(name) }
        #expect(listed.isEmpty)
        try writer.commit()
        #expect(try storage.load(pack) == data)
        let dropped = try storage.create(list)
        try dropped.write([1, 2, 3])
        dropped.abort()
        #expect(try storage.stat(list) == nil)
        try storage.list(.list) { name, _ in Issue.record("an aborted object is listed: \(name)") }
    }

    static func listNamesEachKindsObjectsOnly(_ storage: any RepositoryStorage) throws {
        let packs = (0..<5).map { StoredName.pack(String(format: "%02x", $0 * 40) + String(repeating: "e", count: 62)) }
        for name in packs { try storage.save(name, [1]) }
        try storage.save(list, [2])
        try storage.save(snapshot, [3])
        try storage.save(entry, [4])
        try storage.save(.sweepMarker, [])
        func listed(_ kind: StoredKind) throws -> Set<StoredName> {
            var names = Set<StoredName>()
            try storage.list(kind) { name, info in
                #expect(info.size >= 0)
                names.insert(name)
            }
            return names
        }
        #expect(try listed(.pack) == Set(packs))
        #expect(try listed(.list) == [list])
        #expect(try listed(.snapshot) == [snapshot])
        #expect(try listed(.catalog) == [entry])
        #expect(try listed(.marker) == [.sweepMarker])
        #expect(try listed(.trash).isEmpty && listed(.lock).isEmpty)
    }

    static func removeIsIdempotent(_ storage: any RepositoryStorage) throws {
        try storage.save(list, [1])
        try storage.remove(list)
        try storage.remove(list)
        #expect(try storage.stat(list) == nil)
    }

    static func ofConcurrentCreatorsExactlyOneWins(_ storage: any RepositoryStorage) throws {
        let name = StoredName(.lock, "exclusive.json")
        nonisolated(unsafe) let shared = storage
        let wins = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            do {
                if try shared.saveIfAbsent(name, Array("writer \(i)".utf8)) { wins.add(1, ordering: .relaxed) }
            } catch {
                failures.add(1, ordering: .relaxed)
            }
        }
        #expect(wins.load(ordering: .relaxed) == 1 && failures.load(ordering: .relaxed) == 0)
        #expect(String(decoding: try storage.load(name), as: UTF8.self).hasPrefix("writer "))
    }

    static func namesOutsideTheLayoutAreRefused(_ storage: any RepositoryStorage) throws {
        for bad in [
            StoredName(.catalog, "../escape.json"), StoredName(.pack, "short"),
            StoredName(.list, "../" + String(repeating: "a", count: 61)),
            StoredName(.trash, ".hidden"), StoredName(.lock, ""), StoredName(.lock, "guard"),
        ] {
            #expect(throws: StorageError.invalidName(bad)) { try storage.save(bad, [1]) }
            #expect(throws: StorageError.invalidName(bad)) { try storage.load(bad) }
        }
    }

    static func anEmptyObjectIsAnObject(_ storage: any RepositoryStorage) throws {
        try storage.save(.sweepMarker, [])
        #expect(try storage.stat(.sweepMarker) == StoredInfo(size: 0, modified: try storage.stat(.sweepMarker)!.modified))
        #expect(try storage.load(.sweepMarker).isEmpty)
        #expect(try storage.open(.sweepMarker).size == 0)
    }

    static func removeIfUnchangedRemovesOnlyWhatItWasShown(_ storage: any RepositoryStorage) throws {
        let lock = StoredName.exclusiveLock
        #expect(try storage.removeIfUnchanged(lock, expected: [1]) == false, "nothing to remove")
        try storage.save(lock, [1, 2])
        #expect(try storage.removeIfUnchanged(lock, expected: [1]) == false)
        #expect(try storage.load(lock) == [1, 2])
        #expect(try storage.removeIfUnchanged(lock, expected: [1, 2]))
        #expect(try storage.stat(lock) == nil)
    }

    /// Eight writers find the same stale lock; each removes it only while it is unchanged, then tries to create
    /// its own: exactly one ends up holding the lock, and nobody removed a lock another writer had just taken.
    static func ofConcurrentStaleLockTakersExactlyOneWins(_ storage: any RepositoryStorage) throws {
        let lock = StoredName.exclusiveLock
        let stale = Array("stale".utf8)
        try storage.save(lock, stale)
        nonisolated(unsafe) let shared = storage
        let winners = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            _ = try? shared.removeIfUnchanged(lock, expected: stale)
            if (try? shared.saveIfAbsent(lock, Array("writer \(i)".utf8))) == true { winners.withLock { $0.append(i) } }
        }
        let won = winners.withLock { $0 }
        #expect(won.count == 1)
        #expect(try storage.load(lock) == Array("writer \(won.first ?? -1)".utf8))
    }

    static func aChangeStampMovesWithEveryChange(_ storage: any RepositoryStorage) throws {
        try storage.save(entry, [1])
        guard let first = storage.changeStamp(.catalog) else { return }  // a storage without stamps keeps no cache
        #expect(storage.changeStamp(.catalog) == first, "steady while nothing changes")
        usleep(20_000)
        try storage.save(StoredName.catalogEntry("fedcba9876543210"), [2])
        let second = try #require(storage.changeStamp(.catalog))
        #expect(second != first, "an added object")
        usleep(20_000)
        try storage.remove(entry)
        #expect(storage.changeStamp(.catalog) != second, "a removed object")
    }

    static func scratchFilesAreRemoved(_ storage: any RepositoryStorage) throws {
        let scratch = storage.scratchDirectory
        try FileManager.default.createDirectory(atPath: scratch + "/velo-diff-1", withIntermediateDirectories: true)
        try Data([1]).write(to: URL(fileURLWithPath: scratch + "/velo-diff-1/a"))
        storage.removeScratch()
        #expect((try? FileManager.default.contentsOfDirectory(atPath: scratch))?.isEmpty ?? true)
    }
}

@Suite struct LocalStorageTests {
    static var names: [String] { StorageConformance.checks.map(\.0) }

    @Test(arguments: LocalStorageTests.names) func conformance(_ check: String) throws {
        let root = Fixtures.temporaryDirectory("storage-\(check.replacingOccurrences(of: " ", with: "-"))").path
        try StorageConformance.checks.first { $0.0 == check }!.1(LocalStorage(root: root))
    }

    /// A temporary of a writer that is gone (a kill -9) is removed, one of a live writer is not; empty piece
    /// folders go too; a failed write leaves no folder it made.
    @Test func leftoversOfDeadWritersAreRemoved() throws {
        let root = Fixtures.temporaryDirectory().path
        let storage = LocalStorage(root: root)
        let live = try storage.create(StorageConformance.pack)
        try live.write([1, 2, 3])
        let folder = root + "/data/packs/ab"
        // A dead writer's temporary: pid 2^22 + 1 is above Linux's default pid_max.
        try Data([9]).write(to: URL(fileURLWithPath: folder + "/.x.pack.1.tmp-4194305"))
        try FileManager.default.createDirectory(atPath: root + "/data/packs/cd", withIntermediateDirectories: true)
        #expect(try storage.removeLeftovers(.pack) == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).count == 1, "the live writer's temporary stays")
        try live.commit()
        #expect(try storage.load(StorageConformance.pack) == [1, 2, 3])
        let dropped = try storage.create(StorageConformance.list)
        dropped.abort()
        #expect(!FileManager.default.fileExists(atPath: root + "/data/lists/0f"), "an aborted write leaves no empty folder")
    }
}

/// No code outside the storage layer builds a repository path: a scan of every other target's sources for the
/// layout's folders in string literals and for paths joined onto a repository's root.
@Suite struct RepositoryPathsTests {
    @Test func onlyTheStorageLayerBuildsRepositoryPaths() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../Sources").standardized
        let layoutLiteral = try Regex(#""(snapshots|catalog|locks|trash|data|tmp)/"#)
        let joinedOntoRoot = try Regex(#"(repository|repo|storage)\.(root|location)( as NSString\)\.appendingPathComponent|\s*\+)"#)
        var offenders: [String] = []
        var scanned = 0
        for target in ["VeloFormat", "VeloRepository", "VeloKit", "VeloServer", "velo"] {
            let folder = root.appendingPathComponent(target)
            for file in try #require(FileManager.default.enumerator(atPath: folder.path)).compactMap({ $0 as? String })
            where file.hasSuffix(".swift") {
                scanned += 1
                let text = try String(contentsOfFile: folder.appendingPathComponent(file).path, encoding: .utf8)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let code = line.trimmingCharacters(in: .whitespaces)
                    if code.hasPrefix("//") { continue }
                    if code.contains(layoutLiteral) || code.contains(joinedOntoRoot) {
                        offenders.append("\(target)/\(file):\(number + 1): \(code)")
                    }
                }
            }
        }
        #expect(scanned > 200)
        #expect(offenders.isEmpty, "\(offenders.joined(separator: "\n"))")
    }
}
