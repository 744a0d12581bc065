import Foundation

/// Laravel's stored datetime format, `Y-m-d H:i:s` in UTC, written and read without DateFormatter.
package enum Timestamp {
    /// Formats Unix seconds as `2026-11-27 10:11:15`.
    package static func format(_ seconds: Int64) -> String {
        var bytes = [UInt8](repeating: 0, count: 19)
        write(seconds, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the 19 bytes of `format(seconds)` into `out`.
    package static func write(_ seconds: Int64, into out: inout [UInt8]) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secs = Int(seconds - days * 86_400)
        let (y, m, d) = civil(fromDays: days)
        func put(_ value: Int, _ at: Int, _ width: Int) {
            var v = value
            for i in stride(from: at + width - 1, through: at, by: -1) {
                out[i] = UInt8(48 + v % 10)
                v /= 10
            }
        }
        put(Int(y), 0, 4); out[4] = 0x2D; put(m, 5, 2); out[7] = 0x2D; put(d, 8, 2)
        out[10] = 0x20
        put(secs / 3600, 11, 2); out[13] = 0x3A; put(secs / 60 % 60, 14, 2); out[16] = 0x3A; put(secs % 60, 17, 2)
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    package static func civil(fromDays z0: Int64) -> (Int64, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// `2026-11-27T10:11:15Z` exactly (what velo writes), without a formatter: catalogs hold thousands.
    static func parseUTC(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A, b[19] == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                n = n * 10 + Int(b[i] - 0x30)
            }
            return n
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10), let h = number(11..<13),
            let mi = number(14..<16), let s = number(17..<19), (1...12).contains(m), (1...daysIn(month: m, year: y)).contains(d), h < 24,
            mi < 60, s < 60
        else { return nil }
        return days(fromCivil: Int64(y), m, d) * 86_400 + Int64(h * 3600 + mi * 60 + s)
    }

    /// The number of days of a month (1...12) of the proleptic Gregorian calendar.
    static func daysIn(month m: Int, year y: Int) -> Int {
        [31, (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    package static func days(fromCivil y0: Int64, _ m: Int, _ d: Int) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(m > 2 ? m - 3 : m + 9)
        let doy = (153 * mp + 2) / 5 + Int64(d) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The current time in Unix seconds.
    package static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}

extension Timestamp {
    /// ISO 8601 in UTC: `2026-11-27T10:11:15Z`.
    package static func iso8601(_ seconds: Int64) -> String {
        var text = format(seconds)
        text = text.replacingOccurrences(of: " ", with: "T")
        return text + "Z"
    }

    /// Reads ISO 8601 with a `Z` or numeric offset (`2026-11-27T10:11:15+01:00`), fractional seconds allowed
    /// (dropped), or a bare date (`2026-11-27`, midnight UTC). Returns Unix seconds, or nil for anything else.
    package static func parseISO8601(_ text: String) -> Int64? {
        if let fast = parseUTC(text) { return fast }
        if case .success(let seconds) = parseStrict(text) { return seconds }
        return nil
    }

    /// Reads a time given to `option` on the command line, as `parseISO8601` does; anything else, a time without
    /// an offset included, is an error naming the option and the value (never silently another instant).
    package static func parse(_ text: String, option: String) throws -> Int64 {
        switch parseStrict(text) {
        case .success(let seconds): return seconds
        case .failure(let reason):
            throw VeloError(
                "\(option) \(text): \(reason.message); give an ISO 8601 time with an offset, such as 2026-11-27T03:00:00Z or 2026-11-27T03:00:00+01:00, or a date (midnight UTC)"
            )
        }
    }

    /// `parse`, keeping the fraction of a second to the millisecond (`2026-12-06T10:58:30.250Z`): milliseconds
    /// since the epoch, for a restore from continuous capture, whose commits are stamped to the millisecond.
    package static func parseMilliseconds(_ text: String, option: String) throws -> Int64 {
        let seconds = try parse(text, option: option)
        // The fraction, when given, follows the seconds at byte 19 (parseStrict checked the fixed widths).
        let b = Array(text.utf8)
        var ms: Int64 = 0
        if b.count > 20, b[19] == 0x2E || b[19] == 0x2C {
            var scale: Int64 = 100
            var i = 20
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                ms += Int64(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        return seconds * 1000 + ms
    }

    struct Invalid: Error { let message: String }

    /// The one strict reader: every field in range (30 February and 25:00 are errors), an offset required.
    static func parseStrict(_ text: String) -> Result<Int64, Invalid> {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var n = 0
            for k in i..<(i + count) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                n = n * 10 + Int(b[k] - 0x30)
            }
            i += count
            return n
        }
        func take(_ byte: UInt8) -> Bool {
            guard i < b.count, b[i] == byte else { return false }
            i += 1
            return true
        }
        guard let y = digits(4), take(0x2D), let m = digits(2), take(0x2D), let d = digits(2) else {
            return .failure(Invalid(message: "not a date of the form YYYY-MM-DD"))
        }
        guard (1...12).contains(m) else { return .failure(Invalid(message: "month \(m) does not exist")) }
        let monthDays = daysIn(month: m, year: y)
        guard (1...monthDays).contains(d) else {
            return .failure(
                Invalid(message: "day \(d) does not exist in \(String(format: "%04d-%02d", y, m)), which has \(monthDays) days"))
        }
        let day = days(fromCivil: Int64(y), m, d) * 86_400
        if i == b.count { return .success(day) }
        guard take(0x54) || take(0x74) || take(0x20) else { return .failure(Invalid(message: "expected T between the date and the time")) }
        guard let h = digits(2), take(0x3A), let mi = digits(2) else {
            return .failure(Invalid(message: "not a time of the form HH:MM:SS"))
        }
        var sec = 0
        if take(0x3A) {
            guard let s = digits(2) else { return .failure(Invalid(message: "not a time of the form HH:MM:SS")) }
            sec = s
            if take(0x2E) || take(0x2C) {
                let start = i
                while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
                guard i > start else { return .failure(Invalid(message: "no digits after the decimal point")) }
            }
        }
        guard h < 24 else { return .failure(Invalid(message: "hour \(h) does not exist")) }
        guard mi < 60 else { return .failure(Invalid(message: "minute \(mi) does not exist")) }
        guard sec < 60 else { return .failure(Invalid(message: "second \(sec) does not exist")) }
        let local = day + Int64(h * 3600 + mi * 60 + sec)
        guard i < b.count else { return .failure(Invalid(message: "the time has no offset (Z for UTC, or +01:00)")) }
        if take(0x5A) || take(0x7A) {
            return i == b.count ? .success(local) : .failure(Invalid(message: "unexpected text after the offset"))
        }
        let sign: Int64
        if take(0x2B) {
            sign = 1
        } else if take(0x2D) {
            sign = -1
        } else {
            return .failure(Invalid(message: "unexpected text after the time"))
        }
        guard let oh = digits(2) else { return .failure(Invalid(message: "the offset is not of the form +HH:MM")) }
        var om = 0
        if i < b.count {
            _ = take(0x3A)
            guard let minutes = digits(2) else { return .failure(Invalid(message: "the offset is not of the form +HH:MM")) }
            om = minutes
        }
        guard i == b.count else { return .failure(Invalid(message: "unexpected text after the offset")) }
        guard oh <= 18, om < 60 else { return .failure(Invalid(message: "offset \(sign > 0 ? "+" : "-")\(oh):\(om) does not exist")) }
        return .success(local - sign * Int64(oh * 3600 + om * 60))
    }
}
