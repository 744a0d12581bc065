import Foundation
import VeloFormat

/// Which part of an incremental repository's data one `velo verify --read-subset` reads (restic's
/// `check --read-data-subset`), so that a weekly job checks a large remote repository in slices:
/// - `n/t`: the segment lists whose name falls in group n of t (the first 4 bytes of the name, modulo t); run
///   `1/7` … `7/7` on the days of a week and every list's data is read once a week;
/// - `x%`: each list with probability x%, drawn anew on each run;
/// - a size (`500M`, `2G`, `800K`): lists drawn at random until that many bytes of data were read.
///
/// Everything else is still read and checked on every run: archives, their headers, manifests and segment
/// documents, and the segment lists themselves; only the rows a list outside the subset points at are trusted
/// from the manifest. Self-contained (format 1) archives are always read whole.
public final class ReadSubset: @unchecked Sendable, CustomStringConvertible {
    enum Rule {
        case group(Int, of: Int)
        case fraction(Double)
        case budget(Int64)
    }

    let rule: Rule
    public let description: String
    private let lock = NSLock()
    private(set) var decided: [String: Bool] = [:]
    private var budgetLeft: Int64 = 0
    /// Bytes of data not read because they fell outside the subset.
    public private(set) var skippedBytes: Int64 = 0

    /// Parses `n/t`, `x%` or a size.
    /// - Throws: `.usage` naming the text when it is none of them.
    public init(_ text: String) throws {
        description = text
        let bad = VeloError(
            "--read-subset \(text): expected n/t (e.g. 1/7), a percentage (e.g. 5%) or a size (e.g. 500M, 2G)", kind: .usage)
        if let slash = text.firstIndex(of: "/") {
            guard let n = Int(text[..<slash]), let t = Int(text[text.index(after: slash)...]), t >= 1, n >= 1, n <= t else { throw bad }
            rule = .group(n, of: t)
        } else if text.hasSuffix("%") {
            guard let x = Double(text.dropLast()), x > 0, x <= 100 else { throw bad }
            rule = .fraction(x / 100)
        } else {
            let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
            var digits = Substring(text.uppercased())
            var unit: Int64 = 1
            if let last = digits.last, let u = units[last] {
                unit = u
                digits = digits.dropLast()
            }
            guard let n = Int64(digits), n > 0 else { throw bad }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: unit)
            guard !overflow else { throw bad }
            rule = .budget(bytes)
            budgetLeft = bytes
        }
    }

    /// Whether the data of `list` (a part of `bytes` bytes) is read; the same list gets the same answer all run.
    func includes(list: String, bytes: Int64) -> Bool {
        lock.withLock {
            let include: Bool
            if let known = decided[list] {
                include = known
            } else {
                switch rule {
                case .group(let n, let t):
                    let prefix = UInt32(list.prefix(8), radix: 16) ?? 0
                    include = Int(prefix % UInt32(t)) == n - 1
                case .fraction(let p):
                    include = Double.random(in: 0..<1) < p
                case .budget:
                    include = budgetLeft > 0
                }
                decided[list] = include
            }
            if include, case .budget = rule { budgetLeft -= bytes }
            if !include { skippedBytes += bytes }
            return include
        }
    }
}
