import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Builds catalog entries for retention tests.
enum History {
    static func seconds(_ iso: String) -> Int64 { Timestamp.parseISO8601(iso)! }

    static func entry(
        _ iso: String, source: String = "/srv/a.sqlite", tags: [String] = [], damaged: Bool = false, sequence: Int = 0
    ) -> CatalogEntry {
        let time = seconds(iso)
        var e = CatalogEntry(
            id: String(format: "%016llx", UInt64(time) &* 2654435761 &+ UInt64(sequence) &+ UInt64(abs(source.hashValue % 1000))),
            time: time, sequence: sequence, archive: "snapshots/x-\(time).tar.zst", archiveBytes: 1000, archiveSHA256: "",
            sourcePath: source, sourceKind: "tenant", schemaVersion: nil, tags: tags, collections: [], tableRows: [:],
            records: true, seconds: 1)
        if damaged { e.verification = .init(time: time + 60, ok: false, problems: ["entry x: SHA-256 mismatch"]) }
        return e
    }

    /// One snapshot a day at `hour` (UTC) from `from` to `to`, inclusive.
    static func daily(from: String, to: String, hour: Int = 3) -> [CatalogEntry] {
        var result: [CatalogEntry] = []
        var t = seconds(from + "T00:00:00Z") + Int64(hour) * 3600
        let end = seconds(to + "T23:59:59Z")
        while t <= end {
            result.append(entry(Timestamp.iso8601(t)))
            t += 86_400
        }
        return result
    }

    static func policy(_ json: String) throws -> RetentionPolicy {
        try RetentionPolicy(json: try JSONParser.parse(json))
    }

    /// The kept snapshots' times, as `MM-DD HH:MM` in UTC, newest first.
    static func kept(_ entries: [CatalogEntry], _ policyJSON: String, now: String = "2030-01-01T00:00:00Z") throws -> [String] {
        let decisions = RetentionEvaluator(policy: try policy(policyJSON)).decide(entries, now: seconds(now))
        return decisions.filter(\.keep).map { String(Timestamp.format($0.time).dropFirst(5).prefix(11)) }
    }
}

@Suite struct RetentionEvaluatorTests {
    @Test func restictsWorkedExampleKeepsTwelve() throws {
        // backup-anchors §8 scenario A: daily at 03:00 from 01-01 to 03-01, plus 15:00 on 03-01.
        let history = History.daily(from: "2026-01-01", to: "2026-03-01") + [History.entry("2026-03-01T15:00:00Z")]
        let kept = try History.kept(history, #"{"keep_last": 2, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 3}"#)
        #expect(
            kept == [
                "03-01 15:00", "03-01 03:00", "02-28 03:00", "02-27 03:00", "02-26 03:00", "02-25 03:00",
                "02-24 03:00", "02-23 03:00", "02-22 03:00", "02-15 03:00", "02-08 03:00", "01-31 03:00",
            ])
    }

    @Test func gapsCountOnlyDaysThatHaveASnapshot() throws {
        let history = History.daily(from: "2026-01-01", to: "2026-01-31") + History.daily(from: "2026-02-25", to: "2026-03-01")
        #expect(
            try History.kept(history, #"{"keep_daily": 7}"#) == [
                "03-01 03:00", "02-28 03:00", "02-27 03:00", "02-26 03:00", "02-25 03:00", "01-31 03:00", "01-30 03:00",
            ])
        // keep_within_daily counts back from the newest snapshot instead: January is outside 7 days.
        #expect(try History.kept(history, #"{"keep_within_daily": "7d"}"#).count == 5)
    }

    @Test func isoWeeksCrossTheYearBoundary() throws {
        // 2026-01-01 is a Thursday, so 2025-12-29 .. 2026-01-04 is 2026-W01.
        let history = History.daily(from: "2025-12-20", to: "2026-01-10")
        let decisions = RetentionEvaluator(policy: try History.policy(#"{"keep_weekly": 3}"#)).decide(
            history, now: History.seconds("2030-01-01T00:00:00Z"))
        let kept = decisions.filter(\.keep)
        #expect(kept.map { Timestamp.format($0.time).prefix(10) } == ["2026-01-10", "2026-01-04", "2025-12-28"])
        #expect(kept.map(\.reasons) == [["newest", "weekly 1/3 (2026-W02)"], ["weekly 2/3 (2026-W01)"], ["weekly 3/3 (2025-W52)"]])
    }

    @Test func daysAreTheTimeZonesAcrossDaylightSavingChanges() throws {
        // Berlin springs forward on 2026-03-29 (CET +1 to CEST +2).
        let history = ["2026-03-28T22:30:00Z", "2026-03-28T23:30:00Z", "2026-03-29T21:30:00Z", "2026-03-29T22:30:00Z"].map {
            History.entry($0)
        }
        let berlin = try History.kept(history, #"{"keep_daily": 10, "timezone": "Europe/Berlin"}"#)
        #expect(berlin == ["03-29 22:30", "03-29 21:30", "03-28 22:30"], "Berlin days: 28th, 29th (two), 30th")
        let utc = try History.kept(history, #"{"keep_daily": 10}"#)
        #expect(utc == ["03-29 22:30", "03-28 23:30", "03-28 22:30"], "UTC days: 28th (two, the older kept as oldest), 29th (two)")
        // Berlin falls back on 2026-10-25: 02:30 CEST and 02:30 CET are one wall-clock hour apart but the same hour bucket.
        let autumn = ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"].map { History.entry($0) }
        let decisions = RetentionEvaluator(policy: try History.policy(#"{"keep_hourly": 1, "keep_last": 1, "timezone": "Europe/Berlin"}"#))
            .decide(autumn, now: History.seconds("2030-01-01T00:00:00Z"))
        #expect(decisions.map(\.keep) == [true, false, false])
        #expect(
            CalendarPeriods(timeZone: TimeZone(identifier: "Europe/Berlin")!).label(.hourly, History.seconds("2026-10-25T00:30:00Z"))
                == "2026-10-25 02h")
        #expect(
            CalendarPeriods(timeZone: TimeZone(identifier: "Europe/Berlin")!).label(.hourly, History.seconds("2026-10-25T01:30:00Z"))
                == "2026-10-25 02h")
    }

    @Test func futureSnapshotsAreKeptAndFillNoSlot() throws {
        let history = History.daily(from: "2026-01-01", to: "2026-01-10") + [History.entry("2026-06-01T00:00:00Z")]
        let decisions = RetentionEvaluator(policy: try History.policy(#"{"keep_last": 2, "keep_within": "3d"}"#))
            .decide(history, now: History.seconds("2026-01-10T12:00:00Z"))
        let kept = decisions.filter(\.keep)
        #expect(kept.map { Timestamp.format($0.time).prefix(10) } == ["2026-06-01", "2026-01-10", "2026-01-09", "2026-01-08"])
        #expect(kept[0].reasons == ["future", "within 3d"])
        #expect(kept[1].reasons.contains("last 1/2") && kept[1].reasons.contains("within 3d"))
    }

    @Test func withinWindowsCountBackLikeGosAddDate() throws {
        // 31 March minus one month is "31 February", which Go (and so restic) normalises to 3 March.
        let history = ["2026-03-02T12:00:00Z", "2026-03-03T11:00:00Z", "2026-03-03T13:00:00Z", "2026-03-31T12:00:00Z"].map {
            History.entry($0)
        }
        #expect(try History.kept(history, #"{"keep_within": "1m"}"#) == ["03-31 12:00", "03-03 13:00"])
        let periods = CalendarPeriods(timeZone: TimeZone(identifier: "Europe/Berlin")!)
        // A day back across the spring-forward night keeps the wall-clock time.
        #expect(
            periods.subtract(RetentionDuration(days: 1), from: History.seconds("2026-03-29T10:00:00Z"))
                == History.seconds("2026-03-28T11:00:00Z"))
        #expect(
            periods.subtract(RetentionDuration(years: 1, hours: 2), from: History.seconds("2024-02-29T12:00:00Z"))
                == History.seconds("2023-03-01T10:00:00Z"))
    }

    @Test func theOldestSnapshotIsKeptByARuleWithSlotsLeft() throws {
        let history = ["2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z", "2026-01-06T09:00:00Z"].map { History.entry($0) }
        let decisions = RetentionEvaluator(policy: try History.policy(#"{"keep_daily": 5}"#)).decide(
            history, now: History.seconds("2030-01-01T00:00:00Z"))
        #expect(decisions.map(\.keep) == [true, true, true])
        #expect(decisions.last?.reasons == ["oldest daily"])
        // Without slots left the oldest goes.
        let two = RetentionEvaluator(policy: try History.policy(#"{"keep_daily": 2}"#)).decide(
            history, now: History.seconds("2030-01-01T00:00:00Z"))
        #expect(two.map(\.keep) == [true, true, false])
    }

    @Test func overlappingRulesAreORedAndGiveEveryReason() throws {
        let history = History.daily(from: "2026-01-01", to: "2026-01-20")
        let decisions = RetentionEvaluator(
            policy: try History.policy(#"{"keep_last": 1, "keep_daily": 2, "keep_weekly": 2, "keep_monthly": 1}"#)
        )
        .decide(history, now: History.seconds("2030-01-01T00:00:00Z"))
        #expect(decisions[0].reasons == ["newest", "last 1/1", "daily 1/2 (2026-01-20)", "weekly 1/2 (2026-W04)", "monthly 1/1 (2026-01)"])
        #expect(decisions[1].reasons == ["daily 2/2 (2026-01-19)"])
        #expect(decisions[2].reasons == ["weekly 2/2 (2026-W03)"])
        #expect(decisions.filter(\.keep).count == 3)
    }

    @Test func taggedSnapshotsAreKeptAndStillTakeSlots() throws {
        var history = History.daily(from: "2026-01-01", to: "2026-01-10")
        history[2].tags = ["pre-upgrade"]
        history[9].tags = ["release", "v2"]
        let decisions = RetentionEvaluator(policy: try History.policy(#"{"keep_daily": 1, "keep_tags": ["pre-upgrade", "release,v2"]}"#))
            .decide(history, now: History.seconds("2030-01-01T00:00:00Z"))
        let kept = decisions.filter(\.keep)
        #expect(kept.count == 2)
        #expect(kept[0].reasons == ["tag release,v2", "newest", "daily 1/1 (2026-01-10)"])
        #expect(kept[1].reasons == ["tag pre-upgrade"])
    }

    @Test func eachSourceIsItsOwnGroup() throws {
        let a = History.daily(from: "2026-01-01", to: "2026-01-05")
        let b = ["2026-01-02T05:00:00Z", "2026-01-03T05:00:00Z"].map { History.entry($0, source: "/srv/b.sqlite") }
        let policy = #"{"keep_last": 1}"#
        let bySource = RetentionEvaluator(policy: try History.policy(policy)).decide(a + b, now: History.seconds("2030-01-01T00:00:00Z"))
        #expect(bySource.filter(\.keep).map(\.group) == ["/srv/a.sqlite", "/srv/b.sqlite"])
        let together = RetentionEvaluator(policy: try History.policy(#"{"keep_last": 1, "group_by": "none"}"#)).decide(
            a + b, now: History.seconds("2030-01-01T00:00:00Z"))
        #expect(together.filter(\.keep).count == 1)
        var tagged = a
        tagged[0].tags = ["manual"]
        let byTags = RetentionEvaluator(policy: try History.policy(#"{"keep_last": 1, "group_by": "source+tags"}"#)).decide(
            tagged, now: History.seconds("2030-01-01T00:00:00Z"))
        #expect(byTags.filter(\.keep).count == 2)
    }

    @Test func aDamagedSnapshotFillsNoSlotAndTheNewestIsNeverRemoved() throws {
        var history = History.daily(from: "2026-01-01", to: "2026-01-05")
        history[4].verification = .init(time: 0, ok: false, problems: ["damaged"])  // the newest
        history[3].verification = .init(time: 0, ok: false, problems: ["damaged"])
        let decisions = RetentionEvaluator(policy: try History.policy(#"{"keep_last": 1}"#)).decide(
            history, now: History.seconds("2030-01-01T00:00:00Z"))
        #expect(decisions.map(\.keep) == [true, false, true, false, false])
        #expect(decisions[0].reasons.first == "newest" && decisions[0].damaged)
        #expect(decisions[2].reasons == ["last 1/1"], "the last good snapshot keeps its slot")
        #expect(decisions[1].reasons.last?.hasPrefix("damaged") == true)
    }

    @Test(arguments: 0..<40)
    func propertiesHoldForRandomHistoriesAndPolicies(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(seed) + 11)
        var history: [CatalogEntry] = []
        var t = History.seconds("2025-06-01T00:00:00Z")
        for i in 0..<(1 + random.below(120)) {
            t += Int64(random.below(3 * 86_400)) + 60
            history.append(
                History.entry(
                    Timestamp.iso8601(t), source: random.chance(20) ? "/srv/b.sqlite" : "/srv/a.sqlite",
                    tags: random.chance(10) ? ["pin"] : [], damaged: random.chance(5), sequence: i))
        }
        var keys: [String] = []
        for key in ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"] where random.chance(40) {
            keys.append("\"\(key)\": \(random.chance(10) ? -1 : random.below(6))")
        }
        for key in ["keep_within", "keep_within_daily", "keep_within_weekly"] where random.chance(20) {
            keys.append("\"\(key)\": \"\(1 + random.below(20))d\"")
        }
        if random.chance(20) { keys.append(#""keep_tags": ["pin"]"#) }
        if keys.isEmpty { keys.append("\"keep_daily\": 1") }
        if random.chance(30) { keys.append(#""timezone": "Europe/Berlin""#) }
        guard let policy = try? History.policy("{" + keys.joined(separator: ", ") + "}") else { return }
        let now = t + 3600
        let first = RetentionEvaluator(policy: policy).decide(history, now: now)
        let kept = Set(first.filter(\.keep).map(\.id))
        #expect(!kept.isEmpty, "a non-empty repository never ends up empty")
        for source in Set(history.map(\.sourcePath)) {
            let newest = history.filter { $0.sourcePath == source }.max { ($0.time, $0.sequence) < ($1.time, $1.sequence) }!
            #expect(kept.contains(newest.id), "the newest snapshot of \(source) is kept")
        }
        let second = RetentionEvaluator(policy: policy).decide(history.filter { kept.contains($0.id) }, now: now)
        #expect(second.allSatisfy { $0.keep }, "pruning twice removes nothing the second time")
    }

    @Test func tenThousandSnapshotsAreDecidedQuickly() throws {
        var history: [CatalogEntry] = []
        var t = History.seconds("2025-01-01T00:00:00Z")
        for i in 0..<10_000 { t += 3600; history.append(History.entry(Timestamp.iso8601(t), sequence: i)) }
        let policy = try History.policy(
            #"{"keep_last": 24, "keep_hourly": 48, "keep_daily": 14, "keep_weekly": 8, "keep_monthly": 12, "keep_yearly": -1, "keep_within": "2d", "timezone": "Europe/Berlin"}"#
        )
        let decisions = RetentionEvaluator(policy: policy).decide(history, now: t)
        #expect(decisions.filter(\.keep).count > 60)
    }
}

@Suite struct CalendarPeriodTests {
    @Test(arguments: ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
    func periodsMatchFoundationsCalendar(zone: String) {
        let timeZone = TimeZone(identifier: zone)!
        let periods = CalendarPeriods(timeZone: timeZone)
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        var random = SeededRandom(seed: 5)
        for _ in 0..<3000 {
            let seconds = Int64(1_500_000_000 + random.below(600_000_000))
            let c = calendar.dateComponents(
                [.year, .month, .day, .hour, .yearForWeekOfYear, .weekOfYear],
                from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            #expect(periods.key(.hourly, seconds) == c.year! * 1_000_000 + c.month! * 10_000 + c.day! * 100 + c.hour!)
            #expect(periods.key(.weekly, seconds) == c.yearForWeekOfYear! * 100 + c.weekOfYear!, "\(seconds) in \(zone)")
            #expect(periods.key(.monthly, seconds) == c.year! * 100 + c.month!)
        }
    }
}
