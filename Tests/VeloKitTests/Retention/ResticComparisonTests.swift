import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The kept set must equal what `restic forget --dry-run` keeps for the same snapshot times and policy.
/// restic before 0.16 lacks the rule that keeps the oldest snapshot while a rule has slots left (restic#4366);
/// against such a restic the only allowed difference is snapshots velo keeps for that rule alone.
@Suite(.serialized) struct ResticComparisonTests {
    static let restic: String? = ["/usr/bin/restic", "/usr/local/bin/restic"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let skip: Comment = "restic is not installed (apt-get install restic): the comparison with restic forget is skipped"

    /// Snapshot times: a daily run across a year boundary, an hourly burst, a gap, two in one hour, stragglers.
    static let times: [String] = {
        var times = ["2025-06-15T10:00:00", "2025-09-01T22:15:00", "2025-11-30T23:59:00"]
        var t = History.seconds("2025-12-24T03:00:00Z")
        for _ in 0..<16 { times.append(String(Timestamp.iso8601(t).dropLast())); t += 86_400 }
        for hour in 4...12 { times.append("2026-01-08T\(hour < 10 ? "0" : "")\(hour):00:00") }
        t = History.seconds("2026-02-20T21:00:00Z")
        for _ in 0..<7 { times.append(String(Timestamp.iso8601(t).dropLast())); t += 2 * 86_400 }
        times += ["2026-03-10T09:00:00", "2026-03-10T09:30:00"]
        return times
    }()

    /// (velo policy, restic flags)
    static let policies: [(String, [String])] = [
        (
            #"{"keep_last": 2, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 3}"#,
            ["--keep-last", "2", "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "3"]
        ),
        (#"{"keep_hourly": 5, "keep_weekly": 3, "keep_yearly": 2}"#, ["--keep-hourly", "5", "--keep-weekly", "3", "--keep-yearly", "2"]),
        (#"{"keep_within": "10d", "keep_monthly": 2}"#, ["--keep-within", "10d", "--keep-monthly", "2"]),
        (#"{"keep_within_daily": "20d", "keep_within_weekly": "2m"}"#, ["--keep-within-daily", "20d", "--keep-within-weekly", "2m"]),
        (#"{"keep_weekly": 10}"#, ["--keep-weekly", "10"]),
        (#"{"keep_daily": 40, "keep_last": 3}"#, ["--keep-daily", "40", "--keep-last", "3"]),
        (#"{"keep_within_hourly": "1y", "keep_daily": 2}"#, ["--keep-within-hourly", "1y", "--keep-daily", "2"]),
    ]

    func run(_ arguments: [String], environment: [String: String]) throws -> (Int32, Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.restic!)
        process.arguments = arguments
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }

    @Test(.enabled(if: ResticComparisonTests.restic != nil, ResticComparisonTests.skip))
    func keptSetsEqualResticForget() throws {
        let dir = Fixtures.temporaryDirectory()
        let repo = dir.appendingPathComponent("restic").path
        let data = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try "x".write(to: data.appendingPathComponent("f"), atomically: true, encoding: .utf8)
        let env = [
            "RESTIC_PASSWORD": "velo-test", "TZ": "UTC", "HOME": dir.path, "RESTIC_CACHE_DIR": dir.appendingPathComponent("cache").path,
        ]
        #expect(try run(["init", "--repo", repo], environment: env).0 == 0)
        for time in Self.times {
            let (status, _) = try run(
                ["backup", "--repo", repo, "--host", "velo", "--time", time.replacingOccurrences(of: "T", with: " "), data.path],
                environment: env)
            try #require(status == 0, "restic backup failed")
        }
        let (_, versionText) = try run(["version"], environment: env)
        let version = String(decoding: versionText, as: UTF8.self).split(separator: " ").dropFirst().first.map(String.init) ?? "0"
        let minor = Int(version.split(separator: ".").dropFirst().first ?? "0") ?? 0
        let hasOldestRule = (Int(version.split(separator: ".").first ?? "0") ?? 0) > 0 || minor >= 16
        let entries = Self.times.enumerated().map { History.entry($0.element + "Z", sequence: $0.offset) }
        for (policyJSON, flags) in Self.policies {
            let (status, output) = try run(["forget", "--repo", repo, "--dry-run", "--json", "--group-by", ""] + flags, environment: env)
            try #require(status == 0, "restic forget failed for \(flags)")
            let groups = try JSONParser.parse(Array(output)).arrayValue ?? []
            let resticKept = Set(
                groups.flatMap { $0["keep"]?.arrayValue ?? [] }.compactMap { $0["time"]?.stringValue.flatMap(Timestamp.parseISO8601) })
            let decisions = RetentionEvaluator(policy: try History.policy(policyJSON)).decide(
                entries, now: History.seconds("2030-01-01T00:00:00Z"))
            let veloKept = Set(decisions.filter(\.keep).map(\.time))
            let onlyOldest = Set(decisions.filter { d in d.keep && d.reasons.allSatisfy { $0.hasPrefix("oldest") } }.map(\.time))
            if hasOldestRule {
                #expect(
                    veloKept == resticKept,
                    "\(flags): velo keeps \(veloKept.subtracting(resticKept).map(Timestamp.iso8601)), restic \(resticKept.subtracting(veloKept).map(Timestamp.iso8601))"
                )
            } else {
                #expect(
                    resticKept.isSubset(of: veloKept),
                    "\(flags): restic keeps \(resticKept.subtracting(veloKept).map(Timestamp.iso8601)) that velo removes")
                #expect(
                    veloKept.subtracting(resticKept) == onlyOldest.subtracting(resticKept),
                    "\(flags): velo keeps \(veloKept.subtracting(resticKept).map(Timestamp.iso8601)) beyond restic \(version)")
            }
        }
    }
}
