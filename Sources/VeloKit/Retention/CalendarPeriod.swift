import Foundation

/// The calendar period a moment falls in, in the policy's time zone: the bucket keys of restic's `forget`
/// (hour, day, ISO week Monday to Sunday, month, year). Foundation's calendar handles daylight-saving changes.
struct CalendarPeriods {
    let calendar: Calendar

    init(timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2            // Monday
        calendar.minimumDaysInFirstWeek = 4  // ISO 8601 weeks
        self.calendar = calendar
    }

    /// A number that differs between periods and is equal within one (restic's bucket values).
    func key(_ period: RetentionPolicy.Period, _ seconds: Int64) -> Int {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        switch period {
        case .hourly:
            let c = calendar.dateComponents([.year, .month, .day, .hour], from: date)
            return c.year! * 1_000_000 + c.month! * 10_000 + c.day! * 100 + c.hour!
        case .daily:
            let c = calendar.dateComponents([.year, .month, .day], from: date)
            return c.year! * 10_000 + c.month! * 100 + c.day!
        case .weekly:
            let c = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            return c.yearForWeekOfYear! * 100 + c.weekOfYear!
        case .monthly:
            let c = calendar.dateComponents([.year, .month], from: date)
            return c.year! * 100 + c.month!
        case .yearly:
            return calendar.component(.year, from: date)
        }
    }

    /// The period as people write it: `2026-11-20 14h`, `2026-11-20`, `2026-W47`, `2026-11`, `2026`.
    func label(_ period: RetentionPolicy.Period, _ seconds: Int64) -> String {
        let k = key(period, seconds)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        switch period {
        case .hourly: return "\(k / 1_000_000)-\(two(k / 10_000 % 100))-\(two(k / 100 % 100)) \(two(k % 100))h"
        case .daily: return "\(k / 10_000)-\(two(k / 100 % 100))-\(two(k % 100))"
        case .weekly: return "\(k / 100)-W\(two(k % 100))"
        case .monthly: return "\(k / 100)-\(two(k % 100))"
        case .yearly: return "\(k)"
        }
    }

    /// `seconds` moved back by a calendar duration (years, months, days, then hours), as restic does.
    func subtract(_ duration: RetentionDuration, from seconds: Int64) -> Int64 {
        var date = Date(timeIntervalSince1970: TimeInterval(seconds))
        var components = DateComponents()
        components.year = -duration.years
        components.month = -duration.months
        components.day = -duration.days
        date = calendar.date(byAdding: components, to: date) ?? date
        return Int64(date.timeIntervalSince1970) - Int64(duration.hours) * 3600
    }
}
