import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A retention policy, read from JSON (see `retention.example.json`). Counts are numbers of periods (-1 for
/// unlimited); durations look like `36h`, `7d`, `2w`, `1y6m`. Anything unknown or malformed is an error naming
/// the key; a policy that keeps nothing is refused.
public struct RetentionPolicy: Equatable, Sendable {
    /// How snapshots are grouped before the policy is applied to each group.
    public enum Grouping: String, Sendable, Equatable {
        case source
        case sourceAndTags = "source+tags"
        case none
    }

    /// Calendar periods, finest first.
    public enum Period: String, CaseIterable, Sendable {
        case hourly, daily, weekly, monthly, yearly
    }

    public var keepLast = 0
    public var keep: [Period: Int] = [:]
    public var keepWithin: RetentionDuration?
    /// `keep_within_continuous`: every moment of continuous capture (`velo replicate`) this recent stays
    /// restorable; older captures go (`ContinuousPrune`). Without it, prune leaves captures alone.
    public var keepWithinContinuous: RetentionDuration?
    public var keepWithinPeriod: [Period: RetentionDuration] = [:]
    /// Each entry is a set of tags a snapshot must all carry to be kept; entries are ORed.
    public var keepTags: [[String]] = []
    public var timeZone: TimeZone = TimeZone(identifier: "UTC")!
    public var groupBy: Grouping = .source

    public init() {}

    static let countKeys: [String: Period?] = [
        "keep_last": nil, "keep_hourly": .hourly, "keep_daily": .daily, "keep_weekly": .weekly,
        "keep_monthly": .monthly, "keep_yearly": .yearly,
    ]
    static let withinKeys: [String: Period?] = [
        "keep_within": nil, "keep_within_hourly": .hourly, "keep_within_daily": .daily, "keep_within_weekly": .weekly,
        "keep_within_monthly": .monthly, "keep_within_yearly": .yearly,
    ]

    /// Reads a policy file (strict JSON: an unknown key, a bad count, duration or time zone is refused).
    /// - Throws: `VeloError` (`.input`) naming the file and the key at fault.
    public static func load(path: String) throws -> RetentionPolicy {
        guard let data = FileManager.default.contents(atPath: path) else { throw VeloError("\(path): cannot read the policy file") }
        do {
            return try RetentionPolicy(json: try JSONParser.parse(Array(data)))
        } catch let error as JSONParser.SyntaxError {
            throw VeloError("\(path): \(error)")
        } catch let error as VeloError {
            throw VeloError("\(path): \(error.message)")
        }
    }

    package init(json: JSONValue) throws {
        guard case .object(let pairs) = json else { throw VeloError("a policy is a JSON object, not a \(json.typeName)") }
        var seen = Set<String>()
        for (key, value) in pairs {
            guard seen.insert(key).inserted else { throw VeloError("key \(key) appears twice") }
            if key.hasPrefix("_") || key == "$comment" || key == "comment" { continue }  // documentation keys
            if let period = Self.countKeys[key] {
                guard case .number(let text) = value, let count = Int(text) else {
                    throw VeloError("\(key) must be a whole number (a count, or -1 for unlimited), not \(JSONWriter.string(value))")
                }
                guard count >= -1 else { throw VeloError("\(key) is \(count): a count is 0 or more, or -1 for unlimited") }
                if let period { keep[period] = count } else { keepLast = count }
            } else if let period = Self.withinKeys[key] {
                guard let text = value.stringValue, let duration = RetentionDuration(parsing: text) else {
                    throw VeloError(
                        "\(key) must be a duration such as \"36h\", \"7d\", \"2w\" or \"1y6m\", not \(JSONWriter.string(value))")
                }
                if let period { keepWithinPeriod[period] = duration } else { keepWithin = duration }
            } else if key == "keep_within_continuous" {
                guard let text = value.stringValue, let duration = RetentionDuration(parsing: text), !duration.isZero else {
                    throw VeloError("\(key) must be a duration such as \"36h\", \"7d\" or \"2w\", not \(JSONWriter.string(value))")
                }
                keepWithinContinuous = duration
            } else if key == "keep_tags" {
                guard let items = value.arrayValue else { throw VeloError("keep_tags must be a list of tags") }
                keepTags = try items.map { item in
                    guard let text = item.stringValue, !text.isEmpty else {
                        throw VeloError("keep_tags holds \(JSONWriter.string(item)), not a tag")
                    }
                    return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                }
            } else if key == "timezone" {
                guard let name = value.stringValue, let zone = TimeZone(identifier: name),
                    name.contains("/") || name == "UTC" || name == "GMT"
                else {
                    throw VeloError(
                        "timezone must be an IANA time zone name such as \"Europe/Berlin\" or \"UTC\", not \(JSONWriter.string(value))")
                }
                timeZone = zone
            } else if key == "group_by" {
                guard let text = value.stringValue, let grouping = Grouping(rawValue: text) else {
                    throw VeloError("group_by must be \"source\", \"source+tags\" or \"none\", not \(JSONWriter.string(value))")
                }
                groupBy = grouping
            } else {
                throw VeloError(
                    "unknown key \(key) (known: \((Array(Self.countKeys.keys) + Array(Self.withinKeys.keys) + ["keep_tags", "keep_within_continuous", "timezone", "group_by"]).sorted().joined(separator: ", ")))"
                )
            }
        }
        if keepsNothing {
            throw VeloError("the policy keeps nothing: set at least one keep_* rule (velo never removes every snapshot)")
        }
    }

    /// True when no rule could keep anything.
    public var keepsNothing: Bool {
        keepLast == 0 && keep.values.allSatisfy { $0 == 0 } && (keepWithin?.isZero ?? true)
            && keepWithinPeriod.values.allSatisfy(\.isZero) && keepTags.isEmpty
    }
}
