import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// The calendar period a moment falls in, in the policy's time zone: the bucket keys of restic's `forget`
/// (hour, day, ISO week Monday to Sunday, month, year). Foundation's calendar handles daylight-saving changes.
struct CalendarPeriods {
    let calendar: Calendar

    init(timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2  // Monday
        calendar.minimumDaysInFirstWeek = 4  // ISO 8601 weeks
        self.calendar = calendar
    }

    /// A number that differs between periods and is equal within one (restic's bucket values).
    /// Wall-clock fields come from the zone's offset at that instant, so they follow daylight-saving changes.
    func key(_ period: RetentionPolicy.Period, _ seconds: Int64) -> Int {
        let offset = Int64(calendar.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        let local = seconds + offset
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let (year, month, day) = Timestamp.civil(fromDays: days)
        let y = Int(year)
        switch period {
        case .hourly: return y * 1_000_000 + month * 10_000 + day * 100 + Int((local - days * 86_400) / 3600)
        case .daily: return y * 10_000 + month * 100 + day
        case .weekly:
            // ISO 8601: weeks run Monday to Sunday; a week belongs to the year of its Thursday.
            let weekday = Int(((days + 3) % 7 + 7) % 7)  // Monday = 0; 1970-01-01 was a Thursday
            let thursday = days - Int64(weekday) + 3
            let isoYear = Timestamp.civil(fromDays: thursday).0
            let week = Int((thursday - Timestamp.days(fromCivil: isoYear, 1, 1)) / 7) + 1
            return Int(isoYear) * 100 + week
        case .monthly: return y * 100 + month
        case .yearly: return y
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

    /// `seconds` moved back by a calendar duration the way restic does (`latest.AddDate(-y, -m, -d)` then minus the
    /// hours): on the wall clock of the time zone, months first, overflowing days carried into the next month.
    func subtract(_ duration: RetentionDuration, from seconds: Int64) -> Int64 {
        let zone = calendar.timeZone
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        let local = seconds + offset
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let secondOfDay = local - days * 86_400
        let (year, month, day) = Timestamp.civil(fromDays: days)
        let months = (year - Int64(duration.years)) * 12 + Int64(month - 1) - Int64(duration.months)
        let newYear = months >= 0 ? months / 12 : (months - 11) / 12
        let newMonth = Int(months - newYear * 12) + 1
        let newDays = Timestamp.days(fromCivil: newYear, newMonth, 1) + Int64(day - 1) - Int64(duration.days)
        let newLocal = newDays * 86_400 + secondOfDay
        // Back to UTC with the zone's offset at that wall-clock time.
        var utc = newLocal - offset
        utc = newLocal - Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(utc))))
        return utc - Int64(duration.hours) * 3600
    }
}
