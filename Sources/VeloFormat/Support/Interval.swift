/// A span of time written the way operators write it: whole numbers of weeks, days, hours, minutes and seconds
/// (`90s`, `5m`, `1h30m`, `26h`, `7d`, `2w`). Used for `--max-age`, `--retry-lock` and the config file's
/// schedule; months and years, whose length varies, are retention's business (`RetentionDuration`).
package struct Interval: Equatable, Sendable, CustomStringConvertible {
    package var seconds: Int64

    package init(seconds: Int64) { self.seconds = seconds }

    /// Parses `text`; nil when it is not such a span or is zero.
    package static func parse(_ text: String) -> Interval? {
        var total: Int64 = 0
        var number: Int64?
        var sawUnit = false
        for ch in text.utf8 {
            if ch >= UInt8(ascii: "0") && ch <= UInt8(ascii: "9") {
                let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (n, o2) = m.addingReportingOverflow(Int64(ch - UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                number = n
                continue
            }
            guard let n = number else { return nil }
            let unit: Int64
            switch ch {
            case UInt8(ascii: "w"): unit = 7 * 86_400
            case UInt8(ascii: "d"): unit = 86_400
            case UInt8(ascii: "h"): unit = 3_600
            case UInt8(ascii: "m"): unit = 60
            case UInt8(ascii: "s"): unit = 1
            default: return nil
            }
            let (product, o1) = n.multipliedReportingOverflow(by: unit)
            let (sum, o2) = total.addingReportingOverflow(product)
            guard !o1, !o2, sum <= 100 * 365 * 86_400 else { return nil }
            total = sum
            number = nil
            sawUnit = true
        }
        guard number == nil, sawUnit, total > 0 else { return nil }
        return Interval(seconds: total)
    }

    /// Parses `text` given for `option`, or throws a usage error naming both.
    package static func parse(_ text: String, option: String) throws -> Interval {
        guard let interval = parse(text) else {
            throw VeloError("\(option) \(text): expected a span such as 90s, 5m, 1h30m, 26h, 7d or 2w", kind: .usage)
        }
        return interval
    }

    /// A short form: whole weeks or days as such (`2w`, `7d`), otherwise hours, minutes and seconds (`26h`,
    /// `1h30m`, `45s`), the way `--max-age` is usually written.
    package var description: String {
        if seconds > 0 && seconds % (7 * 86_400) == 0 { return "\(seconds / (7 * 86_400))w" }
        if seconds > 0 && seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        var rest = seconds
        var out = ""
        for (unit, name) in [(Int64(3_600), "h"), (60, "m"), (1, "s")] where rest >= unit {
            out += "\(rest / unit)\(name)"
            rest %= unit
        }
        return out.isEmpty ? "0s" : out
    }
}
