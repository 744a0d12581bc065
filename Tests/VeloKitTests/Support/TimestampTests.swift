import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct TimestampTests {
    @Test(arguments: [Int64(0), 951_782_400, 1_735_689_600, 1_798_761_599, 4_102_444_800, -86_400])
    func formatsLikeLaravel(seconds: Int64) {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        #expect(Timestamp.format(seconds) == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))))
    }

    @Test func readsEveryISOFormWithItsOwnInstant() {
        let base: Int64 = 1_795_757_400  // 2026-11-27T05:30:00Z
        #expect(Timestamp.parseISO8601("2026-11-27T05:30:00Z") == base)
        #expect(Timestamp.parseISO8601("2026-11-27T06:30:00+01:00") == base)
        #expect(Timestamp.parseISO8601("2026-11-27T03:00:00-0230") == base)
        #expect(Timestamp.parseISO8601("2026-11-27T05:30:00.999Z") == base)
        #expect(Timestamp.parseISO8601("2026-11-27t05:30z") == base)
        #expect(Timestamp.parseISO8601("2026-11-27") == base - 5 * 3600 - 1800)
        #expect(Timestamp.parseISO8601("2024-02-29T00:00:00Z") != nil)
    }

    @Test(arguments: [
        ("2026-11-27T05:30:00", "no offset"), ("2026-11-27T25:00:00Z", "hour 25"), ("2026-02-30T03:00:00Z", "day 30"),
        ("2025-02-29", "day 29"), ("2026-00-10", "month 0"), ("2026-11-27T05:60:00Z", "minute 60"), ("2026-11-27T05:30:60Z", "second 60"),
        ("2026-11-27T05:30:00+19:00", "offset"), ("2026-11-27T05:30:00Zjunk", "after the offset"), ("27/11/2026", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
    ])
    func refusesWhatIsNotOneInstant(text: String, reason: String) {
        #expect(Timestamp.parseISO8601(text) == nil)
        do {
            _ = try Timestamp.parse(text, option: "--time")
            Issue.record("\(text) was accepted")
        } catch let error as VeloError {
            #expect(error.message.hasPrefix("--time \(text): ") && error.message.contains(reason), "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }
}
