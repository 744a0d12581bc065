import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct IntervalTests {
    @Test func parsesWhatOperatorsWrite() {
        #expect(Interval.parse("90s")?.seconds == 90)
        #expect(Interval.parse("5m")?.seconds == 300)
        #expect(Interval.parse("1h30m")?.seconds == 5400)
        #expect(Interval.parse("26h")?.seconds == 93_600)
        #expect(Interval.parse("7d")?.seconds == 604_800)
        #expect(Interval.parse("2w")?.seconds == 1_209_600)
        for bad in ["", "h", "26", "1x", "-1h", "0s", "1.5h", "99999999999999999999h", "1h 30m"] {
            #expect(Interval.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func printsTheWayItIsWritten() {
        #expect(Interval(seconds: 93_600).description == "26h")
        #expect(Interval(seconds: 604_800).description == "1w")
        #expect(Interval(seconds: 172_800).description == "2d")
        #expect(Interval(seconds: 5_445).description == "1h30m45s")
    }
}
