import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct RetentionPolicyTests {
    @Test func readsEveryKey() throws {
        let policy = try History.policy(
            #"""
            {"keep_last": 3, "keep_hourly": 24, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12, "keep_yearly": -1,
             "keep_within": "36h", "keep_within_hourly": "2d", "keep_within_daily": "2w", "keep_within_weekly": "2m",
             "keep_within_monthly": "1y6m", "keep_within_yearly": "5y", "keep_tags": ["pre-restore", "release,v2"],
             "timezone": "Europe/Berlin", "group_by": "source+tags", "_comment": "documentation keys are ignored"}
            """#)
        #expect(policy.keepLast == 3 && policy.keep[.yearly] == -1 && policy.keep[.hourly] == 24)
        #expect(policy.keepWithin == RetentionDuration(hours: 36))
        #expect(policy.keepWithinPeriod[.daily] == RetentionDuration(days: 14))
        #expect(policy.keepWithinPeriod[.monthly] == RetentionDuration(years: 1, months: 6))
        #expect(policy.keepTags == [["pre-restore"], ["release", "v2"]])
        #expect(policy.timeZone.identifier == "Europe/Berlin" && policy.groupBy == .sourceAndTags)
    }

    @Test(arguments: [
        (#"{"keep_dayly": 7}"#, "unknown key keep_dayly"),
        (#"{"keep_daily": -2}"#, "keep_daily is -2"),
        (#"{"keep_daily": 1.5}"#, "keep_daily must be a whole number"),
        (#"{"keep_daily": "7"}"#, "keep_daily must be a whole number"),
        (#"{"keep_within": "7 days"}"#, "keep_within must be a duration"),
        (#"{"keep_within_weekly": "3x"}"#, "keep_within_weekly must be a duration"),
        (#"{"keep_daily": 1, "timezone": "Mars/Olympus"}"#, "timezone must be an IANA"),
        (#"{"keep_daily": 1, "group_by": "host"}"#, "group_by must be"),
        (#"{"keep_daily": 0, "keep_last": 0}"#, "keeps nothing"),
        (#"{}"#, "keeps nothing"),
        (#"[1]"#, "a policy is a JSON object"),
        (#"{"keep_tags": "pin"}"#, "keep_tags must be a list"),
        (#"{"keep_within": "3000000000000000h"}"#, "keep_within must be a duration"),
    ])
    func refusesWithTheKeyNamed(json: String, message: String) {
        do {
            _ = try History.policy(json)
            Issue.record("\(json) was accepted")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func durationsParseAndPrint() {
        #expect(RetentionDuration(parsing: "1y6m")?.description == "1y6m")
        #expect(RetentionDuration(parsing: "2w") == RetentionDuration(days: 14))
        #expect(RetentionDuration(parsing: "36h")?.hours == 36)
        for bad in ["", "7", "d", "1.5d", "-1d", "1y 2m", "3q"] { #expect(RetentionDuration(parsing: bad) == nil, "\(bad)") }
    }
}
