import VeloFormat
import VeloRepository
import VeloStorage

/// Decides which snapshots a policy keeps, with the reasons: exactly restic's `forget` algorithm per group
/// (newest first; `keep_<period> N` keeps the newest snapshot of each of the last N periods that have one;
/// rules are ORed; a rule with slots left keeps the oldest snapshot; `keep_within*` counts back from the
/// group's newest snapshot), plus velo's safety rules: the newest snapshot of a group is always kept,
/// snapshots timed in the future are always kept, and a snapshot whose last verification failed fills no
/// count slot (a damaged newest archive cannot push the last good one out).
package struct RetentionEvaluator {
    /// What the policy says about one snapshot.
    package struct Decision: Sendable, Equatable {
        package var id: String
        package var time: Int64
        package var group: String
        package var keep: Bool
        package var reasons: [String]
        package var damaged: Bool
        package var bytes: Int64
    }

    package let policy: RetentionPolicy
    let periods: CalendarPeriods

    package init(policy: RetentionPolicy) {
        self.policy = policy
        periods = CalendarPeriods(timeZone: policy.timeZone)
    }

    /// The group a snapshot belongs to.
    package func group(of entry: CatalogEntry) -> String {
        switch policy.groupBy {
        case .none: return ""
        case .source: return entry.sourcePath
        case .sourceAndTags: return entry.sourcePath + " [" + entry.tags.sorted().joined(separator: ",") + "]"
        }
    }

    /// Decisions for every snapshot, grouped, each group newest first. `now` is Unix seconds.
    package func decide(_ entries: [CatalogEntry], now: Int64) -> [Decision] {
        var groups: [String: [CatalogEntry]] = [:]
        var order: [String] = []
        for entry in entries {
            let key = group(of: entry)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(entry)
        }
        return order.sorted().flatMap { decideGroup($0, groups[$0]!, now: now) }
    }

    func decideGroup(_ group: String, _ entries: [CatalogEntry], now: Int64) -> [Decision] {
        let list = entries.sorted { ($0.time, $0.sequence, $0.id) > ($1.time, $1.sequence, $1.id) }
        var decisions = list.map { entry in
            Decision(
                id: entry.id, time: entry.time, group: group, keep: false, reasons: [],
                damaged: entry.verification?.ok == false, bytes: entry.archiveBytes)
        }
        func keep(_ i: Int, _ reason: String) {
            decisions[i].keep = true
            decisions[i].reasons.append(reason)
        }
        let isFuture = list.map { $0.time > now }
        // The moment `keep_within*` counts back from: the newest snapshot that is not in the future.
        let latest = list.first { $0.time <= now }?.time ?? now
        let withinCutoff = policy.keepWithin.flatMap { $0.isZero ? nil : periods.subtract($0, from: latest) }

        for (i, entry) in list.enumerated() {
            if isFuture[i] { keep(i, "future") }
            for tags in policy.keepTags where tags.allSatisfy(entry.tags.contains) {
                keep(i, "tag " + tags.joined(separator: ","))
            }
            if let within = policy.keepWithin, let cutoff = withinCutoff, entry.time > cutoff {
                keep(i, "within \(within)")
            }
        }
        if let newest = list.indices.first(where: { !isFuture[$0] }) { keep(newest, "newest") }

        // Count rules run over the snapshots that may fill a slot, newest first.
        let counted = list.indices.filter { !isFuture[$0] && !decisions[$0].damaged }
        struct Bucket {
            var name: String
            var period: RetentionPolicy.Period?
            var count: Int
            var used = 0
            var last: Int?
        }
        var buckets: [Bucket] = []
        if policy.keepLast != 0 { buckets.append(Bucket(name: "last", period: nil, count: policy.keepLast)) }
        for period in RetentionPolicy.Period.allCases {
            if let count = policy.keep[period], count != 0 { buckets.append(Bucket(name: period.rawValue, period: period, count: count)) }
        }
        var withinBuckets: [(period: RetentionPolicy.Period, within: RetentionDuration, cutoff: Int64, last: Int?)] =
            RetentionPolicy.Period.allCases.compactMap { p in
                policy.keepWithinPeriod[p].flatMap { $0.isZero ? nil : (p, $0, periods.subtract($0, from: latest), nil) }
            }

        for (nr, i) in counted.enumerated() {
            let time = list[i].time
            let oldest = nr == counted.count - 1
            for b in buckets.indices where buckets[b].count == -1 || buckets[b].used < buckets[b].count {
                let value = buckets[b].period.map { periods.key($0, time) } ?? nr
                if value != buckets[b].last || oldest {
                    // Kept only because it is the oldest and the rule has slots left (restic 0.16 and later).
                    let onlyAsOldest = value == buckets[b].last
                    buckets[b].last = value
                    buckets[b].used += 1
                    let slot = "\(buckets[b].used)/\(buckets[b].count == -1 ? "unlimited" : String(buckets[b].count))"
                    let label = buckets[b].period.map { " (\(periods.label($0, time)))" } ?? ""
                    keep(i, onlyAsOldest ? "oldest \(buckets[b].name)" : "\(buckets[b].name) \(slot)\(label)")
                }
            }
            for w in withinBuckets.indices where time > withinBuckets[w].cutoff {
                let value = periods.key(withinBuckets[w].period, time)
                if value != withinBuckets[w].last || oldest {
                    let onlyAsOldest = value == withinBuckets[w].last
                    withinBuckets[w].last = value
                    let name = "within-\(withinBuckets[w].period.rawValue) \(withinBuckets[w].within)"
                    keep(i, onlyAsOldest ? "oldest \(name)" : "\(name) (\(periods.label(withinBuckets[w].period, time)))")
                }
            }
        }
        for i in decisions.indices where decisions[i].damaged {
            decisions[i].reasons.append("damaged: last verification failed, fills no slot")
        }
        return decisions
    }
}
