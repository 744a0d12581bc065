import Foundation
import Synchronization
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The one bounded hand-off of the data path: order, bounds, errors, discarding and stopping, with and without
/// worker threads.
@Suite struct PipelineStageTests {
    struct Odd: Error, Equatable { let value: Int }

    @Test(arguments: [0, 1, 2, 4]) func outputsComeBackInSubmissionOrder(workers: Int) throws {
        let stage = PipelineStage<Int, Int>(workers: workers, capacity: 6, name: "test") { _ in
            { value in
                // Later inputs finish first on several workers: order is the stage's, not the threads'.
                usleep(useconds_t((10 - value % 10) * 200))
                return value * 2
            }
        }
        var out: [Int] = []
        var next = 0
        while out.count < 100 {
            while stage.hasRoom && next < 100 {
                stage.submit(next)
                next += 1
            }
            #expect(stage.inFlight <= 6)
            out.append(try #require(try stage.next()))
        }
        #expect(out == (0..<100).map { $0 * 2 })
        #expect(try stage.next() == nil, "nothing in flight")
    }

    @Test(arguments: [0, 2]) func anErrorComesBackInItsPlaceAndTheStageGoesOn(workers: Int) throws {
        let stage = PipelineStage<Int, Int>(workers: workers, capacity: 8, name: "test") { _ in
            { value in
                if value == 3 { throw Odd(value: value) }
                return value
            }
        }
        for value in 0..<6 { stage.submit(value) }
        #expect(try stage.next() == 0 && stage.next() == 1 && stage.next() == 2)
        #expect(throws: Odd(value: 3)) { try stage.next() }
        #expect(try stage.next() == 4 && stage.next() == 5)
    }

    @Test func eachWorkerHasATransformOfItsOwn() throws {
        let made = Mutex<[Int]>([])
        let stage = PipelineStage<Int, String>(workers: 3, capacity: 3, name: "test") { index in
            made.withLock { $0.append(index) }
            let context = "worker \(index)"  // state no other worker sees
            return { _ in context }
        }
        for value in 0..<3 { stage.submit(value) }
        var seen = Set<String>()
        while let out = try stage.next() { seen.insert(out) }
        #expect(made.withLock { $0.sorted() } == [0, 1, 2])
        #expect(seen.isSubset(of: ["worker 0", "worker 1", "worker 2"]))
    }

    @Test func aFailingTransformFactoryStopsTheWorkersMadeBefore() {
        #expect(throws: Odd(value: 1)) {
            _ = try PipelineStage<Int, Int>(workers: 3, capacity: 3, name: "test") { index in
                if index == 1 { throw Odd(value: 1) }
                return { $0 }
            }
        }
    }

    @Test func discardedInputsAreNeverTransformed() throws {
        let started = Mutex<[Int]>([])
        let gate = DispatchSemaphore(value: 0)
        let stage = PipelineStage<Int, Int>(workers: 1, capacity: 5, name: "test") { _ in
            { value in
                started.withLock { $0.append(value) }
                if value == 0 { gate.wait() }  // holds the worker on the first input
                return value
            }
        }
        for value in 0..<5 { stage.submit(value) }
        while started.withLock({ $0.isEmpty }) { usleep(1000) }
        #expect(stage.discardQueued() == [1, 2, 3, 4])
        gate.signal()
        #expect(try stage.next() == 0, "the input being transformed still comes out")
        #expect(try stage.next() == nil && stage.inFlight == 0, "the discarded ones are passed over")
        stage.submit(9)
        #expect(try stage.next() == 9)
        #expect(started.withLock { $0 } == [0, 9])
    }

    @Test func stopEndsTheWorkersAndDropsWhatWaits() throws {
        let transformed = Atomic<Int>(0)
        let stage = PipelineStage<Int, Int>(workers: 2, capacity: 50, name: "test") { _ in
            { value in
                usleep(2000)
                transformed.add(1, ordering: .relaxed)
                return value
            }
        }
        for value in 0..<50 { stage.submit(value) }
        stage.stop()
        let atStop = transformed.load(ordering: .relaxed)
        #expect(atStop < 50)
        usleep(20_000)
        #expect(transformed.load(ordering: .relaxed) == atStop, "no worker runs after stop")
        stage.stop()  // idempotent
    }
}
