import Crypto
import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Frames compressed on worker threads come back in the order they were handed over, whole and with the
/// SHA-256 of their compressed bytes, whatever the number of workers; a pack writer places them in order.
@Suite struct FrameCompressorTests {
    /// Frames of different sizes and contents, so that workers finish them out of order.
    static func inputs() -> [[UInt8]] {
        var random = SeededRandom(seed: 7)
        return (0..<24).map { i in
            let count = i % 3 == 0 ? 300_000 : 1_000 + i * 37
            return (0..<count).map { j in i % 2 == 0 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(truncatingIfNeeded: j % 251) }
        }
    }

    @Test(arguments: [0, 1, 2, 3])
    func framesComeBackInSubmissionOrderWhole(workers: Int) throws {
        let compressor = try FrameCompressor(level: 3, workers: workers)
        defer { compressor.stop() }
        let inputs = Self.inputs()
        var results: [FrameCompressor.Compressed] = []
        for input in inputs {
            while !compressor.hasFreeSlot { results.append(try #require(try compressor.next(wait: true))) }
            let buffer = compressor.buffer()
            #expect(buffer.count == 0)
            input.withUnsafeBytes { buffer.append($0) }
            let ticket = compressor.submit(buffer)
            #expect(ticket == results.count + compressor.inFlight - 1)
        }
        while let next = try compressor.next(wait: true) { results.append(next) }
        #expect(results.map(\.ticket) == Array(0..<inputs.count))
        for (result, input) in zip(results, inputs) {
            #expect(result.rawBytes == input.count)
            #expect(try ZstdFrame.decompress(result.bytes, rawBytes: input.count) == input)
            #expect(result.sha256 == Array(SHA256.hash(data: result.bytes)))
        }
    }

    @Test(arguments: [0, 2])
    func aPackWriterPlacesEveryFrameInOrderAndMakesThePackDurable(workers: Int) throws {
        let root = Fixtures.temporaryDirectory("pack-writer-\(workers)").path
        let store = PieceStore(root: root)
        let packs = try PackWriter(store: store, level: 3, workers: workers)
        let inputs = Self.inputs()
        var tickets: [Int] = []
        for input in inputs {
            #expect(packs.currentTicket == tickets.count)
            input.withUnsafeBytes { _ = packs.append($0) }
            tickets.append(try #require(try packs.flushFrame()))
        }
        #expect(try packs.flushFrame() == nil)
        _ = try packs.wait(for: tickets.last!)
        try packs.finish()
        var previous: SegmentList.Frame?
        for (ticket, input) in zip(tickets, inputs) {
            let frame = try #require(packs.frame(ticket))
            if let previous, previous.pack == frame.pack {
                #expect(frame.offset == previous.offset + Int64(previous.length))
            } else {
                #expect(frame.offset == 0)
            }
            previous = frame
            #expect(try store.frame(frame) == input)
        }
        #expect(!packs.packs.isEmpty)
        packs.forget(before: tickets.last!)
        #expect(packs.frame(tickets[0]) == nil)
        #expect(packs.frame(tickets.last!) != nil)
    }

    @Test func anAbortedPackWriterLeavesNoTemporaryPack() throws {
        let root = Fixtures.temporaryDirectory("pack-writer-abort").path
        let packs = try PackWriter(store: PieceStore(root: root), level: 3, workers: 2)
        for input in Self.inputs().prefix(5) {
            input.withUnsafeBytes { _ = packs.append($0) }
            _ = try packs.flushFrame()
        }
        packs.abort()
        let left =
            FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String }.filter {
                $0.hasSuffix(".pack") || $0.contains(".tmp-")
            } ?? []
        #expect(left.isEmpty)
    }
}
