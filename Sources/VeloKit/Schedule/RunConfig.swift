import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// The config file of `velo run` and `velo status --config` (see `velo.example.json`): what to back up, where,
/// how often, how long to keep it and how often to verify it. Strict JSON: an unknown key, a wrong type or a bad
/// span is refused naming the file and the key; keys starting with `_` are comments.
package struct RunConfig: Sendable {
    /// The file it was read from (relative paths inside are relative to its folder).
    package var file: String
    /// Where snapshots go: the first repository listed (`"repository"`: one location, or several).
    package var repository: String
    /// The other repositories listed: each round copies the primary's snapshots to each (`velo copy`) and
    /// applies the retention policy there too.
    package var copies: [String] = []
    /// Databases backed up one by one, each its own source.
    package var databases: [String] = []
    /// A Veloquent app folder: its landlord and every tenant, with their uploaded files.
    package var app: String?
    /// With `app`: only these tenants (ids or names); all when empty.
    package var tenants: [String] = []
    /// With `app`: tenants backed up at once.
    package var jobs: Int?
    /// With `app`: tenants velo cannot cover (not SQLite, files on S3) are reported but not a failure.
    package var skipUncovered = false
    package var tags: [String] = []
    /// A source whose newest snapshot is at least this old gets a backup in a round.
    package var backupEvery = Interval(seconds: 3_600)
    /// The retention policy applied after the backups (none: nothing is pruned).
    package var retention: RetentionPolicy?
    /// The retention policy as the config (or the file it names) writes it: what `velo serve`'s backups page shows.
    package var retentionJSON: JSONValue?
    /// Snapshots not verified for this long are verified in a round.
    package var verifyEvery = Interval(seconds: 7 * 86_400)
    /// At most this many verifications per round (none: all that are due).
    package var verifyLimit: Int?
    /// `velo status`'s limit for the newest snapshot's age.
    package var maxAge = Interval(seconds: 26 * 3_600)
    /// Where each round writes the Prometheus textfile.
    package var prometheus: String?
    /// The password of encrypted repositories (all the config lists): `password_file` (relative to the config
    /// file) or `password_command`, else `VELO_PASSWORD_FILE` or `VELO_PASSWORD_COMMAND` of the environment (a
    /// systemd unit's environment file). Read once a process and remembered.
    package var password: PasswordSource? = PasswordSource.fromEnvironment()?.remembered()
    package var level: Int32 = 3
    /// Sources are backed up as self-contained format-1 archives instead of incremental snapshots (as
    /// `velo backup --full`), app tenants with their files included.
    package var full = false
    /// `continuous`: every committed transaction of the sources is captured into the repository (`velo replicate
    /// --config`, and beside `velo serve --config`'s rounds) with these settings; nil: no capture.
    package var continuous: Replicator.Options?
    /// `continuous.max_lag`: `velo status`'s limit for the capture's lag.
    package var maxLag = Interval(seconds: 60)

    /// The sources that must have snapshots (as absolute paths, as snapshots record them): every database named
    /// and, with an app, its landlord and the SQLite tenants selected.
    /// - Throws: what reading the app's `.env` and landlord throws.
    package func expectedSources() throws -> [String] {
        guard let app else { return databases }
        let sources = try AppLayout.load(app).sources(selecting: tenants.isEmpty ? nil : tenants)
        return databases + sources.filter { $0.notCovered == nil }.compactMap { $0.databasePath.map(FileSystem.absolute) }
    }

    /// Reads and checks `path`.
    /// - Throws: `.input` naming the file and the key at fault.
    package static func load(path: String) throws -> RunConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw VeloError("\(path): cannot read the config file") }
        let json: JSONValue
        do { json = try JSONParser.parse(Array(data)) } catch { throw VeloError("\(path): \(error)") }
        do {
            return try RunConfig(json: json, file: FileSystem.absolute(path))
        } catch let error as VeloError {
            throw VeloError("\(path): \(error.message)")
        }
    }

    init(json: JSONValue, file: String) throws {
        guard case .object(let pairs) = json else { throw VeloError("a config is a JSON object, not a \(json.typeName)") }
        self.file = file
        let folder = (file as NSString).deletingLastPathComponent
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : ((folder as NSString).appendingPathComponent(path) as NSString).standardizingPath
        }
        func string(_ key: String, _ value: JSONValue) throws -> String {
            guard let s = value.stringValue, !s.isEmpty else {
                throw VeloError("\(key) must be a non-empty string, not \(JSONWriter.string(value))")
            }
            return s
        }
        func strings(_ key: String, _ value: JSONValue) throws -> [String] {
            guard let a = value.arrayValue else { throw VeloError("\(key) must be an array of strings, not \(JSONWriter.string(value))") }
            return try a.map { try string(key, $0) }
        }
        func interval(_ key: String, _ value: JSONValue) throws -> Interval {
            let text = try string(key, value)
            guard let i = Interval.parse(text) else {
                throw VeloError("\(key) \(text): expected a span such as 90s, 5m, 1h30m, 26h, 7d or 2w")
            }
            return i
        }
        func count(_ key: String, _ value: JSONValue, min: Int) throws -> Int {
            guard case .number(let text) = value, let n = Int(text), n >= min else {
                throw VeloError("\(key) must be a whole number of at least \(min), not \(JSONWriter.string(value))")
            }
            return n
        }
        var repository: String?
        var seen = Set<String>()
        for (key, value) in pairs {
            guard seen.insert(key).inserted else { throw VeloError("key \(key) appears twice") }
            if key.hasPrefix("_") { continue }
            switch key {
            case "repository":
                // A bucket (`s3:…`) as written; a folder relative to the config file. Several: the first gets the
                // backups, the others copies.
                let texts = value.arrayValue != nil ? try strings(key, value) : [try string(key, value)]
                guard !texts.isEmpty else { throw VeloError("repository lists no repository") }
                let locations = texts.map { S3Location.isS3($0) ? $0 : resolve($0) }
                guard Set(locations).count == locations.count else { throw VeloError("repository lists a repository twice") }
                repository = locations[0]
                copies = Array(locations.dropFirst())
            case "databases": databases = try strings(key, value).map(resolve)
            case "app": app = resolve(try string(key, value))
            case "tenants": tenants = try strings(key, value)
            case "jobs": jobs = try count(key, value, min: 1)
            case "skip_uncovered":
                guard case .bool(let b) = value else { throw VeloError("skip_uncovered must be true or false") }
                skipUncovered = b
            case "tags": tags = try strings(key, value)
            case "full":
                guard case .bool(let b) = value else { throw VeloError("full must be true or false") }
                full = b
            case "backup_every": backupEvery = try interval(key, value)
            case "verify_every": verifyEvery = try interval(key, value)
            case "verify_limit": verifyLimit = try count(key, value, min: 0)
            case "max_age": maxAge = try interval(key, value)
            case "prometheus": prometheus = resolve(try string(key, value))
            case "password_file": password = PasswordSource.file(resolve(try string(key, value))).remembered()
            case "password_command":
                password = PasswordSource.command(try string(key, value), origin: "the config's password_command").remembered()
            case "level":
                let n = try count(key, value, min: 1)
                guard n <= 19 else { throw VeloError("level must be 1 to 19 (zstd levels), not \(n)") }
                level = Int32(n)
            case "retention":
                if case .object = value {
                    do { retention = try RetentionPolicy(json: value) } catch let e as VeloError {
                        throw VeloError("retention: \(e.message)")
                    }
                    retentionJSON = value
                } else {
                    let file = resolve(try string(key, value))
                    retention = try RetentionPolicy.load(path: file)
                    retentionJSON = FileManager.default.contents(atPath: file).flatMap { try? JSONParser.parse([UInt8]($0)) }
                }
            case "continuous":
                switch value {
                case .bool(let on): continuous = on ? Replicator.Options() : nil
                case .object(let settings): (continuous, maxLag) = try Self.continuous(settings)
                default: throw VeloError("continuous must be true, false or an object of settings, not \(JSONWriter.string(value))")
                }
            default:
                throw VeloError(
                    "unknown key \(key) (known: repository, databases, app, tenants, jobs, skip_uncovered, tags, backup_every, retention, verify_every, verify_limit, max_age, prometheus, level, full, continuous, password_file, password_command)"
                )
            }
        }
        guard let repository else { throw VeloError("repository is missing: the folder snapshots go to") }
        self.repository = repository
        if databases.isEmpty && app == nil { throw VeloError("nothing to back up: give databases, or app") }
        if app == nil && (!tenants.isEmpty || jobs != nil || skipUncovered) {
            throw VeloError("tenants, jobs and skip_uncovered apply only with app")
        }
        if Set(databases).count != databases.count { throw VeloError("databases lists a file twice") }
    }

    /// The settings of `continuous` (each optional): `interval`, `poll`, `base_every`, `rescan`, `compact`
    /// (`1m,1h` or `off`), `wal_cap_frames`, `set_wal`, `max_lag`.
    static func continuous(_ pairs: [(String, JSONValue)]) throws -> (Replicator.Options, Interval) {
        var options = Replicator.Options()
        var maxLag = Interval(seconds: 60)
        func duration(_ key: String, _ value: JSONValue) throws -> Duration {
            guard let text = value.stringValue, let duration = Replicator.Options.duration(text) else {
                throw VeloError("continuous.\(key) must be a duration such as 100ms, 1s or 5m, not \(JSONWriter.string(value))")
            }
            return duration
        }
        for (key, value) in pairs where !key.hasPrefix("_") {
            switch key {
            case "interval": options.interval = try duration(key, value)
            case "poll": options.poll = try duration(key, value)
            case "base_every": options.baseEvery = try duration(key, value)
            case "rescan": options.rescan = try duration(key, value)
            case "max_lag":
                guard let text = value.stringValue, let span = Interval.parse(text) else {
                    throw VeloError("continuous.max_lag must be a span such as 60s or 5m, not \(JSONWriter.string(value))")
                }
                maxLag = span
            case "compact":
                guard let text = value.stringValue else {
                    throw VeloError("continuous.compact must be a string such as \"1m,1h\" or \"off\"")
                }
                do { options.compaction = try ContinuousCompaction.Levels.parse(text) } catch let error as VeloError {
                    throw VeloError("continuous.compact \(error.message)")
                }
            case "wal_cap_frames":
                guard case .number(let text) = value, let n = Int(text), n >= 100 else {
                    throw VeloError("continuous.wal_cap_frames must be a whole number of at least 100, not \(JSONWriter.string(value))")
                }
                options.walCapFrames = n
            case "set_wal":
                guard case .bool(let b) = value else { throw VeloError("continuous.set_wal must be true or false") }
                options.setWAL = b
            default:
                throw VeloError(
                    "unknown key continuous.\(key) (known: interval, poll, base_every, rescan, compact, wal_cap_frames, set_wal, max_lag)")
            }
        }
        return (options, maxLag)
    }

    /// The sources `continuous` captures, and for an app how to find them again (its tenants, new ones included):
    /// every database named and, with an app, its landlord and the SQLite tenants selected.
    package func capturedSources() throws -> (sources: [String], discover: (() throws -> [String])?) {
        guard let app else { return (databases, nil) }
        let selection = tenants.isEmpty ? nil : tenants
        let databases = databases
        let find = {
            databases + (try AppLayout.load(app).sources(selecting: selection)).compactMap { $0.notCovered == nil ? $0.databasePath : nil }
        }
        return (try find(), find)
    }
}
