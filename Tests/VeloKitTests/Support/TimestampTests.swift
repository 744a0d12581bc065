import Foundation
import Testing
@testable import VeloKit

@Suite struct TimestampTests {
    @Test(arguments: [Int64(0), 951_782_400, 1_735_689_600, 1_798_761_599, 4_102_444_800, -86_400])
    func formatsLikeLaravel(seconds: Int64) {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        #expect(Timestamp.format(seconds) == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))))
    }
}
