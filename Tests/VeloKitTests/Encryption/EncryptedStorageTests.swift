import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The sealed storage of an encrypted repository: it passes every check a storage must pass, seals every object
/// but the identity and the key files, reads ranges of any size, and reports every kind of tampering as damage
/// naming the object, never as other bytes.
@Suite struct EncryptedStorageTests {
    static let keys = RepositoryKeys.generate()

    static func sealed(_ root: String) -> EncryptedStorage {
        EncryptedStorage(
            LocalStorage(root: root), keys: keys, cacheDirectory: root + "-cache", scratchDirectory: root + "-scratch")
    }

    @Test(arguments: LocalStorageTests.names) func conformance(_ check: String) throws {
        let root = Fixtures.temporaryDirectory("sealed-\(check.replacingOccurrences(of: " ", with: "-"))").path
        try StorageConformance.checks.first { $0.0 == check }!.1(Self.sealed(root))
    }

    @Test func sizesFollowFromTheStoredSizeAlone() {
        for plain: Int64 in [0, 1, 100, 65_535, 65_536, 65_537, 131_072, 131_073, 1_000_000] {
            let stored = SealedObject.storedSize(plain)
            #expect(SealedObject.plaintextSize(stored) == plain, "\(plain)")
        }
        // What no sealed object can be: shorter than one chunk's overhead, or a last chunk with nothing in it.
        #expect(SealedObject.plaintextSize(10) == nil)
        #expect(SealedObject.plaintextSize(8 + Int64(SealedObject.sealedChunkBytes) + 28) == nil)
    }

    @Test func everyObjectButTheIdentityAndKeyFilesIsSealed() throws {
        let root = Fixtures.temporaryDirectory().path
        let storage = Self.sealed(root)
        let secret = Array("superuser@example.com $2y$12$secret".utf8)
        for name in [StorageConformance.pack, StorageConformance.list, StorageConformance.snapshot, StorageConformance.entry] {
            try storage.save(name, secret)
            let raw = try LocalStorage(root: root).load(name)
            #expect(raw.starts(with: SealedObject.magic) && !raw.contains(secret), "\(name)")
            #expect(try storage.load(name) == secret)
            #expect(try storage.stat(name)?.size == Int64(secret.count), "sizes are the plain bytes'")
        }
        try storage.save(.config, [1, 2])
        #expect(try LocalStorage(root: root).load(.config) == [1, 2])
    }

    @Test func rangedReadsOfAStreamedObjectMatchItsBytes() throws {
        let root = Fixtures.temporaryDirectory().path
        let storage = Self.sealed(root)
        // Larger than a read window (`SealedRanges.windowChunks` chunks), so that long reads take several fetches.
        let size = 2_500_001
        let bytes = StorageConformance.bytes(size, seed: 3)
        let writer = try storage.create(StorageConformance.pack)
        // Uneven writes across chunk boundaries.
        var at = 0
        for step in [1, 65_535, 2, 70_000, 100_000] where at < bytes.count {
            let end = min(bytes.count, at + step)
            try writer.write(Array(bytes[at..<end]))
            at = end
        }
        try writer.write(Array(bytes[at...]))
        try writer.commit()
        let reader = try storage.open(StorageConformance.pack)
        #expect(reader.size == Int64(bytes.count))
        let window = SealedRanges.windowChunks * SealedObject.chunkBytes
        for (offset, count) in [
            (0, 1), (65_535, 2), (65_536, 65_536), (1_000, 250_000), (size - 1, 1), (0, size), (131_000, 10),
            (0, window), (0, window + 1), (7, window), (65_536, 2 * window + 3), (size - window - 5, window + 5),
        ] {
            #expect(try reader.read(at: Int64(offset), count: count) == Array(bytes[offset..<(offset + count)]), "\(offset) +\(count)")
        }
        #expect(throws: StorageError.self) { _ = try reader.read(at: Int64(size - 1), count: 2) }
        // Readers come and go (their windows go back to a pool and are taken again): each reads its own object.
        for round in 0..<20 {
            let again = try storage.open(StorageConformance.pack)
            let offset = round * 60_013
            #expect(try again.read(at: Int64(offset), count: 1_200_000) == Array(bytes[offset..<(offset + 1_200_000)]))
        }
        // Reads in order of uneven sizes (a pack's frames, an archive's blocks) and random jumps between them.
        var random = SeededRandom(seed: 11)
        var offset = 0
        for step in 0..<300 {
            if step % 50 == 49 { offset = Int(random.next() % UInt64(bytes.count)) }
            let count = min(bytes.count - offset, 1 + Int(random.next() % (step % 7 == 6 ? 1_500_000 : 90_000)))
            guard count > 0 else {
                offset = 0
                continue
            }
            #expect(try reader.read(at: Int64(offset), count: count) == Array(bytes[offset..<(offset + count)]), "\(offset) +\(count)")
            offset = (offset + count) % bytes.count
        }
    }

    /// Flipped bits, a cut at a chunk's end or inside one, chunks swapped, an object moved to another name, an object
    /// of another repository: each is damage naming the object.
    @Test func tamperingIsDamageNamingTheObject() throws {
        let root = Fixtures.temporaryDirectory().path
        let storage = Self.sealed(root)
        let plain = LocalStorage(root: root)
        let bytes = StorageConformance.bytes(200_000, seed: 5)
        let name = StorageConformance.pack
        try storage.save(name, bytes)
        let good = try plain.load(name)
        func expectDamage(_ stored: [UInt8], as target: StoredName = StorageConformance.pack, _ what: String) throws {
            try plain.save(target, stored)
            do {
                let read = try storage.load(target)
                Issue.record("\(what): read \(read.count) bytes instead of failing")
            } catch let error as VeloError {
                #expect(error.kind == .damaged, "\(what)")
                #expect(error.message.contains(target.relativePath), "\(what): \(error.message)")
            }
            do {
                let reader = try storage.open(target)
                _ = try reader.read(at: 0, count: Int(reader.size))
                Issue.record("\(what): a ranged read succeeded")
            } catch let error as VeloError {
                #expect(error.kind == .damaged, "\(what)")
            }
        }
        var flipped = good
        flipped[70_000] ^= 0x10
        try expectDamage(flipped, "a flipped bit")
        let chunk = SealedObject.sealedChunkBytes
        try expectDamage(Array(good[..<(8 + chunk * 2)]), "cut at a chunk's end")
        try expectDamage(Array(good[..<(good.count - 5)]), "cut inside a chunk")
        var swapped = Array(good[..<8])
        swapped += good[(8 + chunk)..<(8 + chunk * 2)]
        swapped += good[8..<(8 + chunk)]
        swapped += good[(8 + chunk * 2)...]
        try expectDamage(swapped, "two chunks swapped")
        try plain.save(name, good)
        try expectDamage(good, as: .pack(String(repeating: "cd", count: 32)), "moved to another name")
        let other = EncryptedStorage(
            LocalStorage(root: root), keys: RepositoryKeys.generate(), cacheDirectory: nil, scratchDirectory: root + "-scratch")
        #expect(throws: VeloError.self) { _ = try other.load(name) }
        #expect(try storage.load(name) == bytes, "the original still reads")
    }

    @Test func contentAddressesAreKeyedPerRepository() {
        let list = Array("the same rows".utf8)
        let a = Self.keys.contentAddress(list), b = RepositoryKeys.generate().contentAddress(list)
        #expect(a != b && a != SHA256Digest.of(list) && a.count == 64)
        #expect(LocalStorage(root: "/nonexistent").contentAddress(list) == SHA256Digest.of(list))
    }
}
