import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The one rule both writers of uploaded files read them by: full chunks, and a file whose size changed since it
/// was measured is refused (never stored torn).
@Suite struct FileChunksTests {
    func file(_ bytes: Int, _ name: String = #function) throws -> String {
        let path = Fixtures.temporaryDirectory(name).appendingPathComponent("upload.bin").path
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func chunksAreFullButTheLastAndHoldTheFile() throws {
        let path = try file(1000)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var sizes: [Int] = []
        var all: [UInt8] = []
        try FileChunks.read(fd, size: 1000, path: path, chunkBytes: 300) {
            sizes.append($0.count); all += $0
        }
        #expect(sizes == [300, 300, 300, 100])
        #expect(all == Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    @Test func aFileThatShrankOrGrewIsRefusedNamingIt() throws {
        let path = try file(1000)
        for (claimed, word) in [(1500 as Int64, "shrank"), (600, "grew")] {
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            #expect {
                try FileChunks.read(fd, size: claimed, path: path, chunkBytes: 256) { _ in }
            } throws: { error in
                "\(error)".contains("\(path): \(word) while it was being backed up") && error.veloKind == .io
            }
        }
    }
}
