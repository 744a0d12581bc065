import VeloFormat
import VeloRepository
import VeloStorage

/// A calendar duration such as `36h`, `7d`, `2w` or `1y6m`: years, months, days and hours, applied on the
/// calendar as restic's `--keep-within` does (Go's `AddDate`: a month back from 31 March is 3 March, as
/// 31 February normalises to it).
public struct RetentionDuration: Equatable, Sendable, CustomStringConvertible {
    public var years = 0
    public var months = 0
    public var days = 0
    public var hours = 0

    public init(years: Int = 0, months: Int = 0, days: Int = 0, hours: Int = 0) {
        self.years = years
        self.months = months
        self.days = days
        self.hours = hours
    }

    /// The largest number one unit may carry; durations beyond a few thousand years mean a typo.
    public static let limit = 100_000

    /// Reads `<n><unit>` groups with units y, m, w (7 days), d, h; e.g. `1y6m`, `2w3d`, `36h`.
    public init?(parsing text: String) {
        guard !text.isEmpty else { return nil }
        var number = ""
        var sawUnit = false
        for ch in text {
            if ch.isASCII && ch.isNumber { number.append(ch); continue }
            guard let n = Int(number), n >= 0, n <= Self.limit else { return nil }
            switch ch {
            case "y": years += n
            case "m": months += n
            case "w": days += 7 * n  // n <= limit: no overflow
            case "d": days += n
            case "h": hours += n
            default: return nil
            }
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit, [years, months, days, hours].allSatisfy({ $0 <= 8 * Self.limit }) else { return nil }
    }

    public var isZero: Bool { years == 0 && months == 0 && days == 0 && hours == 0 }

    /// As written back, e.g. `1y6m`, `7d`.
    public var description: String {
        var text = ""
        if years > 0 { text += "\(years)y" }
        if months > 0 { text += "\(months)m" }
        if days > 0 { text += "\(days)d" }
        if hours > 0 { text += "\(hours)h" }
        return text.isEmpty ? "0h" : text
    }

    /// restic's spelling (it has no `w`).
    public var resticText: String { description }
}
