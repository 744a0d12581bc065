import Crypto
import Foundation

@testable import VeloFormat

/// A `velo replicate` process the tests start, read and stop (SIGTERM) or kill (SIGKILL), as systemd would.
final class ReplicateProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var errorText = Data()
    private let done = DispatchGroup()

    init(_ arguments: [String]) throws {
        process.executableURL = VeloProcess.executable
        process.arguments = ["replicate", "-v"] + arguments
        var env = ProcessInfo.processInfo.environment
        env["VELO_DB"] = nil
        env["VELO_REPO"] = nil
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        done.enter()
        DispatchQueue.global().async { [self] in
            var pending = Data()
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    lock.lock()
                    lines.append(line)
                    lock.unlock()
                }
            }
            done.leave()
        }
        done.enter()
        DispatchQueue.global().async { [self] in
            let data = err.fileHandleForReading.readDataToEndOfFile()
            lock.lock()
            errorText = data
            lock.unlock()
            done.leave()
        }
    }

    /// The lines printed so far (one per stored batch, then the summary).
    var output: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    var stderr: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: errorText, as: UTF8.self)
    }

    /// The batches reported stored so far.
    var storedBatches: [String] {
        output.compactMap { line in
            guard line.hasPrefix("stored "), let colon = line.firstIndex(of: ":") else { return nil }
            return String(line[line.index(line.startIndex, offsetBy: 7)..<colon])
        }
    }

    /// Waits until a batch was reported stored (the base's, on a first run).
    func waitForFirstBatch(timeout: Duration = .seconds(60)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && process.isRunning {
            if !storedBatches.isEmpty { return true }
            usleep(20_000)
        }
        return false
    }

    /// Sends `signal` and waits for the end; returns the exit status (or the signal's number when killed).
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        done.wait()
        return process.terminationStatus
    }
}

/// A writer that commits transactions into a WAL database from this process (a process other than velo's, as
/// Veloquent's PHP is), and records after each commit the moment just before COMMIT, the moment after it, and
/// a hash of the whole database's content: the oracle a restore to a moment is checked against.
final class OracleWriter {
    struct Commit {
        var before: Int64
        var after: Int64
        var hash: String
    }

    let path: String
    private let db: Database
    private var random: SystemRandomNumberGenerator
    private var generator: UInt64 = 0x9E37_79B9_7F4A_7C15
    private(set) var commits: [Commit] = []
    /// The content before the first commit recorded.
    private(set) var initialHash = ""
    private var extraTables = 0
    /// The database's content as of the last commit, kept up to date row by row.
    private var content: ContentDigest
    private var columns = 0

    /// The table the mix writes (a Veloquent collection's shape).
    let table: String
    /// Each commit on a connection of its own, opened and closed around it, as PHP opens one per request: a
    /// log started over by such a connection carries that connection's own checkpoint counter.
    var connectionPerCommit = false

    /// Opens (or creates) the database in WAL mode and creates `table` in it.
    init(path: String, table: String = "posts") throws {
        self.path = path
        self.table = table
        random = SystemRandomNumberGenerator()
        db = try Database(path: path, mode: .create)
        // WAL with synchronous=NORMAL, as Litestream advises its users: a commit is not fsynced, the log is at each
        // checkpoint (the writer's rate is then not the disk's fsync rate).
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
        try db.execute(
            "CREATE TABLE \(table) (id TEXT PRIMARY KEY NOT NULL, title TEXT, body TEXT, views INTEGER DEFAULT 0, created TEXT, updated TEXT)"
        )
        try db.execute("CREATE INDEX \(table)_created ON \(table)(created)")
        content = try ContentDigest(db)
        initialHash = content.hex
    }

    private func next() -> UInt64 {
        generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return generator >> 11
    }

    /// Random text that does not compress much (1 to `max` characters).
    private func text(_ max: Int) -> String {
        let count = 1 + Int(next() % UInt64(max))
        return String(decoding: (0..<count).map { _ in UInt8(97 + next() % 26) }, as: UTF8.self)
    }

    /// One transaction of the mix: inserts, updates, deletes; every 150th a schema change (Veloquent-shaped:
    /// a new collection table, a column added, a table dropped); `vacuum` runs VACUUM instead.
    func commitOne(vacuum: Bool = false) throws {
        let db = connectionPerCommit ? try Database(path: path, mode: .readWrite) : self.db
        if connectionPerCommit { try db.execute("PRAGMA synchronous=NORMAL") }
        let before: Int64
        var changed: [String] = []
        var schemaChanged = false
        if vacuum {
            before = Self.now
            try db.execute("VACUUM")
        } else {
            try db.execute("BEGIN IMMEDIATE")
            let n = commits.count
            if n % 150 == 149 {
                schemaChanged = true
                switch (n / 150) % 3 {
                case 0:
                    extraTables += 1
                    try db.execute(
                        "CREATE TABLE extra_\(extraTables) (id TEXT PRIMARY KEY NOT NULL, name TEXT, data TEXT, created TEXT)")
                    try db.execute("INSERT INTO extra_\(extraTables) VALUES ('a', 'first', '\(text(200))', '2026-12-07')")
                case 1:
                    columns += 1
                    try db.execute("ALTER TABLE \(table) ADD COLUMN extra_\(columns) TEXT")
                default:
                    if extraTables > 0 { try db.execute("DROP TABLE IF EXISTS extra_\(extraTables)") }
                }
            }
            for _ in 0..<(1 + Int(next() % 3)) {
                let id = String(format: "%015llx", next())
                try db.execute(
                    "INSERT INTO \(table) (id, title, body, created, updated) VALUES (?, ?, ?, ?, ?)",
                    [.text(id), .text(text(60)), .text(text(1500)), .text("2026-12-07"), .text("2026-12-07")])
                changed.append(id)
            }
            if next() % 2 == 0, let id = try db.scalar("SELECT id FROM \(table) ORDER BY random() LIMIT 1")?.stringValue {
                try db.execute("UPDATE \(table) SET views = views + 1, body = ? WHERE id = ?", [.text(text(800)), .text(id)])
                changed.append(id)
            }
            let count = try db.scalar("SELECT count(*) FROM \(table)")?.int64Value ?? 0
            if count > 300 || next() % 3 == 0 {
                let ids = try db.rows("SELECT id FROM \(table) ORDER BY random() LIMIT \(count > 300 ? 3 : 1)").compactMap {
                    $0[0].stringValue
                }
                try db.execute("DELETE FROM \(table) WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))", ids.map { .text($0) })
                changed += ids
            }
            before = Self.now
            try db.execute("COMMIT")
        }
        let after = Self.now
        // The rows changed are digested again; a schema change (every row of a table may read differently) or a
        // VACUUM, all of them.
        if vacuum || schemaChanged {
            content = try ContentDigest(db)
        } else {
            try content.refresh(db, table: table, ids: changed)
        }
        commits.append(Commit(before: before, after: after, hash: content.hex))
    }

    /// Commits at about `rate` a second for `duration`, with one VACUUM half-way when `vacuum`.
    func run(for duration: Duration, rate: Int, vacuum: Bool = true) throws {
        let clock = ContinuousClock()
        let start = clock.now
        let step = Duration.seconds(1) / rate
        var due = start
        var vacuumed = !vacuum
        while clock.now - start < duration {
            if !vacuumed && clock.now - start >= duration / 2 {
                try commitOne(vacuum: true)
                vacuumed = true
            } else {
                try commitOne()
            }
            due += step
            if due > clock.now { Thread.sleep(forTimeInterval: Double((due - clock.now).components.attoseconds) / 1e18) }
        }
    }

    /// The oracle's hash of a database's content (`ContentDigest`).
    static func contentHash(_ db: Database) throws -> String {
        try ContentDigest(db).hex
    }

    static func contentHash(of path: String) throws -> String {
        try contentHash(Database(path: path, mode: .readOnly))
    }

    static var now: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// `2026-12-07T10:58:30.250Z` for `ms`.
    static func iso(_ ms: Int64) -> String {
        let seconds = ms / 1000
        return String(Timestamp.iso8601(seconds).dropLast()) + String(format: ".%03dZ", Int(ms % 1000))
    }

    /// The oracle commits a restore as of `time` may equal: the last commit velo saw at or before `time` was
    /// COMMITted before it, and the one after it was seen after `time`, at most `latency` after it returned.
    /// -1 stands for the content before the first commit.
    func allowed(at time: Int64, latency: Int64) -> [Int] {
        var allowed = commits.indices.filter { j in
            commits[j].before <= time && (j == commits.count - 1 || commits[j + 1].after > time - latency)
        }
        if commits.isEmpty || commits[0].after > time - latency { allowed.insert(-1, at: 0) }
        return allowed
    }

    /// True when `hash` is the content of one of the commits a restore as of `time` may equal.
    func matches(_ hash: String, at time: Int64, latency: Int64) -> Bool {
        allowed(at: time, latency: latency).contains { ($0 < 0 ? initialHash : commits[$0].hash) == hash }
    }
}

/// A database's content as the oracle compares it: its schema (every table's and index's SQL), and for each
/// table the multiset of its rows, each row's values as SQLite's `quote()` writes them, digested (SHA-256) and
/// summed (so the whole does not depend on the rows' order). The writer keeps it up to date row by row, so a
/// commit costs the rows it changed, not the whole database: the whole-database hash after every commit was
/// three quarters of a commit's time and capped the writer at about 170 commits a second in a debug build.
struct ContentDigest {
    /// A row digest as four 64-bit lanes, summed lane by lane (wrapping).
    typealias Sum = [UInt64]

    /// The schema's rows (name and SQL), as text.
    private var schema: [UInt8] = []
    /// Per table with an `id` column (the writer's), each row's digest by its `id`, for `refresh`.
    private var rows: [String: [String: Sum]] = [:]
    /// Per table, the sum of its rows' digests.
    private var sums: [String: Sum] = [:]

    /// The content of `db`, every row read.
    init(_ db: Database) throws {
        for table in try readSchema(db) {
            sums[table] = [0, 0, 0, 0]
            let keyed = try Self.hasID(db, table)
            if keyed { rows[table] = [:] }
            for (id, digest) in try Self.digests(db, table: table, ids: nil, keyed: keyed) {
                if keyed { rows[table]![id] = digest }
                sums[table] = Self.add(sums[table]!, digest)
            }
        }
    }

    /// Digests again the rows `ids` of `table`, a table with an `id` column (a row no longer there leaves it).
    mutating func refresh(_ db: Database, table: String, ids: [String]) throws {
        _ = try readSchema(db)
        let fresh = Dictionary(try Self.digests(db, table: table, ids: ids, keyed: true), uniquingKeysWith: { a, _ in a })
        for id in Set(ids) {
            if let old = rows[table]?.removeValue(forKey: id) { sums[table] = Self.subtract(sums[table]!, old) }
            if let digest = fresh[id] {
                rows[table]![id] = digest
                sums[table] = Self.add(sums[table]!, digest)
            }
        }
    }

    /// SHA-256 of the schema and of each table's name and rows' sum, tables by name.
    var hex: String {
        var hash = SHA256Digest()
        hash.update(schema)
        for table in sums.keys.sorted() {
            hash.update(Array("\(table)\n".utf8))
            for lane in sums[table]! { hash.update(withUnsafeBytes(of: lane.littleEndian) { Array($0) }) }
        }
        return hash.hex()
    }

    /// Reads the schema; returns the tables' names.
    private mutating func readSchema(_ db: Database) throws -> [String] {
        let entries = try db.rows("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL ORDER BY name")
        schema = Array(entries.map { "\($0)\n" }.joined().utf8)
        return entries.filter { ($0[1].stringValue ?? "").uppercased().hasPrefix("CREATE TABLE") }.compactMap { $0[0].stringValue }
    }

    private static func columns(_ db: Database, _ table: String) throws -> [String] {
        try db.rows("SELECT name FROM pragma_table_info(?)", [.text(table)]).compactMap { $0.first?.stringValue }
    }

    private static func hasID(_ db: Database, _ table: String) throws -> Bool { try columns(db, table).contains("id") }

    /// Each row's `id` (empty when not `keyed`) and digest: of `ids`, or of every row when nil.
    static func digests(_ db: Database, table: String, ids: [String]?, keyed: Bool) throws -> [(String, Sum)] {
        let row = try columns(db, table).map { "quote(\(SQL.quote($0)))" }.joined(separator: " || ',' || ")
        var sql = "SELECT \(keyed ? "CAST(id AS TEXT)" : "''"), CAST(\(row) AS BLOB) FROM \(SQL.quote(table))"
        if let ids {
            guard !ids.isEmpty else { return [] }
            sql += " WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))"
        }
        return try db.rows(sql, (ids ?? []).map { .text($0) }).compactMap { values in
            guard case .blob(let bytes) = values[1] else { return nil }
            let digest = Array(SHA256.hash(data: bytes))
            let lanes = (0..<4).map { lane in digest[lane * 8..<lane * 8 + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
            return (values[0].stringValue ?? "", lanes)
        }
    }

    private static func add(_ a: Sum, _ b: Sum) -> Sum { zip(a, b).map { $0 &+ $1 } }
    private static func subtract(_ a: Sum, _ b: Sum) -> Sum { zip(a, b).map { $0 &- $1 } }
}
