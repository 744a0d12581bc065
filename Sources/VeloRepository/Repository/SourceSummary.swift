import VeloFormat
import VeloStorage

/// What the repository holds for one source (a database file, a tenant): enough to tell whether its backups are
/// fresh and sound without reading any of its snapshots. Computed from the catalog; cached by `CatalogIndex`.
package struct SourceSummary: Equatable, Sendable {
    /// A snapshot's time and what it added to the repository (`CatalogEntry.addedBytes`), for the size trend.
    package struct Point: Equatable, Sendable {
        package var id: String
        package var time: Int64
        package var bytes: Int64
    }

    /// The newest verification of any of the source's snapshots.
    package struct LastVerification: Equatable, Sendable {
        package var id: String
        package var time: Int64
        package var ok: Bool
    }

    /// How many recent snapshots the size trend keeps.
    package static let trendLength = 10

    package var source: String
    package var kind: String
    package var snapshots: Int
    package var totalBytes: Int64
    /// The oldest snapshot's time.
    package var firstTime: Int64
    /// The newest snapshots, oldest first (at most `trendLength`); the last one is the source's latest snapshot.
    package var recent: [Point]
    package var lastVerification: LastVerification?
    /// Snapshots whose last verification failed (damage that retention will not count).
    package var failing: [String]
    /// Snapshots never verified.
    package var unverified: Int

    package var latest: Point? { recent.last }

    /// The summary of `snapshots` (in any order) of one source.
    init(source: String, kind: String, snapshots: [CatalogIndex.Snapshot]) {
        let sorted = snapshots.sorted(by: CatalogIndex.Snapshot.older)
        self.source = source
        self.kind = kind
        self.snapshots = sorted.count
        totalBytes = sorted.reduce(0) { $0 + $1.bytes }
        firstTime = sorted.first?.time ?? 0
        recent = sorted.suffix(Self.trendLength).map { Point(id: $0.id, time: $0.time, bytes: $0.bytes) }
        var last: LastVerification?
        failing = []
        unverified = 0
        for snapshot in sorted {
            guard let v = snapshot.verification else { unverified += 1; continue }
            if !v.ok { failing.append(snapshot.id) }
            if last == nil || v.time >= last!.time { last = LastVerification(id: snapshot.id, time: v.time, ok: v.ok) }
        }
        lastVerification = last
    }

    var json: JSONValue {
        .object([
            ("source", .string(source)), ("kind", .string(kind)), ("snapshots", .int(snapshots)), ("total_bytes", .int(totalBytes)),
            ("first_time", .int(firstTime)),
            ("recent", .array(recent.map { .array([.string($0.id), .int($0.time), .int($0.bytes)]) })),
            ("last_verification", lastVerification.map { .array([.string($0.id), .int($0.time), .bool($0.ok)]) } ?? .null),
            ("failing", .array(failing.map { .string($0) })), ("unverified", .int(unverified)),
        ])
    }

    init?(json: JSONValue) {
        guard let source = json["source"]?.stringValue, let kind = json["kind"]?.stringValue,
            let count = json["snapshots"]?.intValue, let total = json["total_bytes"]?.intValue,
            let first = json["first_time"]?.intValue, let recent = json["recent"]?.arrayValue,
            let failing = json["failing"]?.arrayValue, let unverified = json["unverified"]?.intValue
        else { return nil }
        self.source = source
        self.kind = kind
        snapshots = count
        totalBytes = Int64(total)
        firstTime = Int64(first)
        var points: [Point] = []
        for p in recent {
            guard let a = p.arrayValue, a.count == 3, let id = a[0].stringValue, let t = a[1].intValue, let b = a[2].intValue else {
                return nil
            }
            points.append(Point(id: id, time: Int64(t), bytes: Int64(b)))
        }
        self.recent = points
        if let a = json["last_verification"]?.arrayValue {
            guard a.count == 3, let id = a[0].stringValue, let t = a[1].intValue, let ok = a[2].boolValue else { return nil }
            lastVerification = LastVerification(id: id, time: Int64(t), ok: ok)
        }
        self.failing = failing.compactMap(\.stringValue)
        self.unverified = unverified
    }
}
