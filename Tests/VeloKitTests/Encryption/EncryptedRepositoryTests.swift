import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// An encrypted repository end to end: backups (incremental, deduplicated), verify and restore work as in a plain
/// one, while nothing in its folder (or bucket) reads as rows, and its segment lists are named by keyed addresses.
@Suite struct EncryptedRepositoryTests {
    static let quick = ScryptParameters(n: 1 << 10, r: 8, p: 1)

    static func access(_ password: String, encrypt: Bool = true) -> RepositoryAccess {
        RepositoryAccess(password: .literal(password), encrypt: encrypt, scrypt: quick)
    }

    /// Every file under `folder`, read whole.
    func files(_ folder: String) -> [(String, [UInt8])] {
        let walker = FileManager.default.enumerator(atPath: folder)!
        var out: [(String, [UInt8])] = []
        while let relative = walker.nextObject() as? String {
            let full = folder + "/" + relative
            if !FileSystem.isDirectory(full), let data = FileManager.default.contents(atPath: full) { out.append((relative, Array(data))) }
        }
        return out
    }

    /// Runs backups, verify and a restore on `repo`, returns the restored database's dump and the source's.
    func roundTrip(_ repo: Repository, dir: URL) throws -> (restored: String, source: String) {
        let db = try Fixtures.demo(posts: 300, name: "enc-\(UUID().uuidString.prefix(6))")
        var options = Backup.Options()
        options.includeFramework = true  // so that the restored database is the whole source
        _ = try Backup.run(databasePath: db, repository: repo, options: options)
        let source = try Database(path: db, mode: .readWrite)
        try source.execute("UPDATE _velo_posts SET title = 'changed ' || rowid WHERE rowid % 7 = 0")
        _ = try Backup.run(databasePath: db, repository: repo, options: options)
        let entries = try repo.catalog.entries()
        #expect(entries.count == 2)
        let parts = VerifiedParts()
        for entry in entries {
            let report = try Verifier.verify(.catalogued(entry, repository: repo), verifiedParts: parts)
            #expect(report.problems.isEmpty, "\(report.problems)")
        }
        let target = dir.appendingPathComponent("restored-\(UUID().uuidString.prefix(6)).sqlite").path
        let latest = entries.last!
        _ = try NewDatabaseRestore.run(
            .catalogued(latest, repository: repo), manifest: try repo.catalog.detail(latest.id).manifest,
            archiveSHA256: latest.archiveSHA256, to: target)
        return (try Fixtures.dump(target), try Fixtures.dump(db))
    }

    @Test func aLocalEncryptedRepositoryHoldsNothingReadable() throws {
        let dir = Fixtures.temporaryDirectory()
        let root = dir.appendingPathComponent("repo").path
        let repo = try Repository.open(root, create: true, access: Self.access("pw one"))
        #expect(repo.isEncrypted && repo.keyFile != nil)
        let (restored, source) = try roundTrip(repo, dir: dir)
        #expect(restored == source)
        // Nothing in the folder but the identity and key files reads as anything: no row, no name, no zstd frame.
        let secrets = ["changed 7", "superusers", "_velo_posts", "\u{28}\u{b5}\u{2f}\u{fd}"].map { Array($0.utf8) }
        var sealed = 0
        for (relative, bytes) in files(root) where !relative.hasPrefix("keys/") && relative != "velo-repository.json" {
            guard !bytes.isEmpty, relative != "locks/guard" else { continue }
            #expect(bytes.starts(with: SealedObject.magic), "\(relative) is not sealed")
            for secret in secrets { #expect(!bytes.contains(secret), "\(relative) holds \(String(decoding: secret, as: UTF8.self))") }
            sealed += 1
        }
        #expect(sealed > 10)
        #expect(!FileSystem.exists(root + "/cache/catalog"), "the catalog cache is kept on this machine, not in the repository")
        // Another repository with the same rows names its lists differently, as does a plain one.
        let other = try Repository.open(dir.appendingPathComponent("other").path, create: true, access: Self.access("pw two"))
        let plain = try Repository.open(dir.appendingPathComponent("plain").path, create: true)
        let db = try Fixtures.demo(posts: 300, name: "same-rows")
        for each in [repo, other, plain] { _ = try Backup.run(databasePath: db, repository: each, options: Backup.Options()) }
        func lists(_ r: Repository) throws -> Set<String> {
            var names = Set<String>()
            try r.storage.list(.list) { name, _ in names.insert(name.name) }
            return names
        }
        #expect(try lists(repo).isDisjoint(with: lists(other)))
        #expect(try lists(repo).isDisjoint(with: lists(plain)))
    }

    @Test func aWrongPasswordOrNoneOpensNothing() throws {
        let root = Fixtures.temporaryDirectory().appendingPathComponent("repo").path
        _ = try Repository.open(root, create: true, access: Self.access("right"))
        #expect { try Repository.open(root, access: Self.access("wrong", encrypt: false)) } throws: {
            ($0 as? VeloError)?.kind == .wrongPassword && "\($0)".contains("wrong password")
        }
        #expect { try Repository.open(root) } throws: { ($0 as? VeloError)?.remedy == .givePassword(repository: root) }
        // A plain repository is never converted, and an encrypted one opens as it is with `encrypt` again.
        let plainRoot = Fixtures.temporaryDirectory().appendingPathComponent("plain").path
        _ = try Repository.open(plainRoot, create: true)
        #expect(throws: VeloError.self) { try Repository.open(plainRoot, create: true, access: Self.access("x")) }
        #expect(try Repository.open(root, create: true, access: Self.access("right")).isEncrypted)
    }

    @Test func passwordsChangeWithoutTouchingData() throws {
        let root = Fixtures.temporaryDirectory().appendingPathComponent("repo").path
        let repo = try Repository.open(root, create: true, access: Self.access("first"))
        let db = try Fixtures.demo(posts: 50)
        _ = try Backup.run(databasePath: db, repository: repo, options: Backup.Options())
        let archive = try repo.catalog.entries()[0].archive
        let before = try Data(contentsOf: URL(fileURLWithPath: root + "/" + archive))
        let second = try repo.addKey(password: Array("second".utf8), parameters: Self.quick)
        #expect(try repo.keyFiles().count == 2)
        let opened = try Repository.open(root, access: Self.access("second", encrypt: false))
        #expect(opened.keyFile?.id == second.id)
        #expect(throws: VeloError.self) { try opened.removeKey(second.id) }  // the one in use
        _ = try opened.changePassword(to: Array("third".utf8), parameters: Self.quick)
        #expect(throws: VeloError.self) { try Repository.open(root, access: Self.access("second", encrypt: false)) }
        let third = try Repository.open(root, access: Self.access("third", encrypt: false))
        try third.removeKey(try third.keyID(matching: String(repo.keyFile!.id.prefix(6))))
        #expect(try third.keyFiles().map(\.id) == [third.keyFile!.id])
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/" + archive)) == before, "no snapshot was encrypted again")
        #expect(try Verifier.verify(.catalogued(third.catalog.entries()[0], repository: third)).problems.isEmpty)
    }

    /// A key file that the password opens but that wraps another master key (what a killed `init` leaves) is
    /// never used; one of another repository is damage.
    @Test func aKeyFileOfAnotherMasterKeyIsNeverUsed() throws {
        let root = Fixtures.temporaryDirectory().appendingPathComponent("repo").path
        let repo = try Repository.open(root, create: true, access: Self.access("right"))
        let stray = try KeyFile.make(
            .generate(), password: Array("stray".utf8), repository: repo.id!, parameters: Self.quick, host: "h", user: "u")
        try repo.storage.save(.key(stray.id), stray.bytes)
        #expect { try Repository.open(root, access: Self.access("stray", encrypt: false)) } throws: {
            ($0 as? VeloError)?.kind == .damaged && "\($0)".contains("another master key")
        }
        #expect(try Repository.open(root, access: Self.access("right", encrypt: false)).isEncrypted)
    }

    @Test func anEncryptedRepositoryInABucket() throws {
        guard let server = try S3StorageTests.server() else { return }
        let location = server.location("encrypted")
        let storage = try S3Storage(location, environment: SeaweedFS.environment)
        let repo = try Repository.open(storage: storage, create: true, access: Self.access("bucket pw"))
        #expect(repo.isEncrypted)
        let (restored, source) = try roundTrip(repo, dir: Fixtures.temporaryDirectory())
        #expect(restored == source)
        var checked = 0
        for kind in [StoredKind.snapshot, .catalog, .pack, .list] {
            var names: [StoredName] = []
            try storage.list(kind) { name, _ in names.append(name) }
            for name in names.prefix(3) {
                #expect(try storage.loadStored(name).starts(with: SealedObject.magic), "\(name)")
                checked += 1
            }
        }
        #expect(checked >= 8)
        let again = try Repository.open(
            storage: try S3Storage(location, environment: SeaweedFS.environment), access: Self.access("bucket pw", encrypt: false))
        #expect(try again.catalog.entries().count == 2)
    }
}
