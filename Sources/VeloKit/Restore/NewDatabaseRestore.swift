import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Restores a whole snapshot into a database file that does not exist yet: the archive's exact DDL, then the
/// rows, then the indexes, triggers and views, then the autoincrement counters, so that `sqlite3 .dump` of the
/// result equals the source's at snapshot time (for the tables whose rows the snapshot holds). Written under a
/// temporary name and renamed into place when complete, so a failure never leaves a half-restored file.
/// The building block of `velo restore` into a new target.
package struct NewDatabaseRestore {
    package struct Result: Encodable, Sendable {
        package var snapshot: String
        package var path: String
        package var rows: [String: Int]
        package var seconds: Double
    }

    /// A reason to refuse when the target's filesystem clearly cannot hold the restored database.
    static func shortOfSpace(manifest: Manifest?, at path: String) -> String? {
        guard let manifest else { return nil }
        let needed = Int64(Double(manifest.totalBytes) * 1.5)
        let directory = (path as NSString).deletingLastPathComponent
        var fs = statvfs()
        guard statvfs(directory.isEmpty ? "." : directory, &fs) == 0 else { return nil }
        let free = Int64(fs.f_bavail) * Int64(fs.f_frsize)
        return free < needed
            ? "\(directory): \(free / 1_048_576) MiB free, the restored database needs about \(needed / 1_048_576) MiB" : nil
    }

    /// The tables whose rows a restore into a new file writes, in archive order: every archived table but SQLite's
    /// statistics (ANALYZE rebuilds them); with `only`, just those, and always `sqlite_sequence`'s counters.
    /// `velo plan` lists exactly these, and the restore reports exactly these.
    static func writtenTables(_ archived: [String], only: Set<String>?) -> [String] {
        archived.filter { name in
            if name == "sqlite_sequence" { return true }
            if name.hasPrefix("sqlite_") { return false }
            return only?.contains(name) ?? true
        }
    }

    /// Restores `snapshot` into `path`, checking the archive in full as it streams (`SnapshotReader`): against
    /// `manifest` and `archiveSHA256` (the catalog's, or those of the audit the plan made) when given, else
    /// against its own manifest. The file becomes the target only when the whole archive has proved sound.
    /// - Parameter tables: restore only these tables' rows (every table is still created); nil for all.
    package static func run(
        _ snapshot: SelectedSnapshot, manifest: Manifest?, archiveSHA256: String?, audited: Bool = false,
        to path: String, tables: Set<String>? = nil, progress: (any ProgressObserver)? = nil
    ) throws -> Result {
        let started = ContinuousClock.now
        guard !FileManager.default.fileExists(atPath: path) else {
            throw VeloError("\(path): already exists; restoring into a new database needs a path that does not")
        }
        TemporaryFile.removeLitter(beside: path)  // what a killed restore left
        let temporary = path + ".velo-restore-\(getpid())"
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
        var rows: [String: Int] = [:]
        var snapshotID = ""
        do {
            let reader = try SnapshotReader(snapshot, manifest: manifest, archiveSHA256: archiveSHA256, audited: audited)
            let header = reader.header
            snapshotID = header.id
            let written = Set(writtenTables(header.tables.map(\.name), only: tables))
            for name in written { rows[name] = 0 }
            if let disk = NewDatabaseRestore.shortOfSpace(manifest: manifest, at: path) { throw VeloError(disk) }
            let db = try Database(path: temporary, mode: .create)
            if header.source.pageSize > 0 { try db.execute("PRAGMA page_size = \(header.source.pageSize)") }
            try db.execute(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -16000; PRAGMA locking_mode = EXCLUSIVE")
            var schema: [(type: String, name: String, sql: String?)] = []
            var created = false
            var current: (table: String, statement: Statement, binder: RowBinder)?
            var sequences: [(String, RecordValue)] = []
            var done = 0
            try db.execute("BEGIN")
            func createTables() throws {
                created = true
                if let problem = ArchiveSchema.problems(
                    schema.map { SQLiteSchema.Object(type: $0.type, name: $0.name, tableName: "", sql: $0.sql) }
                ).first {
                    throw ArchiveDamage(path: snapshot.archiveLocation, entry: ArchiveFormat.schemaPath, reason: problem)
                }
                let exists = try db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?")
                for object in schema where object.type == "table" && !object.name.hasPrefix("sqlite_") {
                    guard let sql = object.sql else { continue }
                    // Shadow tables that a virtual table created itself are already there.
                    exists.reset()
                    try exists.bind(.text(object.name), at: 1)
                    let present = try exists.step()
                    exists.reset()
                    if !present { try db.executeCreate(sql) }
                }
            }
            let end = try reader.scan(schema: { line in
                let values = try RecordDecoder.decode(line)
                guard values.count == 4 else {
                    throw ArchiveDamage(
                        path: snapshot.archiveLocation, entry: ArchiveFormat.schemaPath,
                        reason: "a schema row has \(values.count) values, not 4")
                }
                func text(_ v: RecordValue) -> String? {
                    if case .text(let t) = v { return String(decoding: t, as: UTF8.self) }; return nil
                }
                schema.append((text(values[0]) ?? "", text(values[1]) ?? "", text(values[3])))
            }) { table, line in
                if !created { try createTables() }
                if table.name == "sqlite_sequence" {
                    let values = try RecordDecoder.decode(line)
                    if values.count == 2, case .text(let name) = values[0] {
                        sequences.append((String(decoding: name, as: UTF8.self), values[1]))
                        rows[table.name, default: 0] += 1
                    }
                    return true
                }
                if !written.contains(table.name) { return true }
                if current?.table != table.name {
                    let placeholders = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
                    current = (
                        table.name,
                        try db.prepare("INSERT INTO \(SQL.quote(table.name)) (\(SQL.quoteList(table.columns))) VALUES (\(placeholders))"),
                        RowBinder(columnCount: table.columns.count)
                    )
                }
                let (_, statement, binder) = current!
                statement.reset()
                do { try binder.bind(line, to: statement) } catch {
                    throw VeloError("\(snapshot.archiveLocation): table \(table.name), row \((rows[table.name] ?? 0) + 1): \(error)")
                }
                try statement.step()
                rows[table.name, default: 0] += 1
                done += 1
                if done & 8191 == 0 { try Interruption.check(); progress?.update(done, detail: table.name) }
                return true
            }
            guard end != nil else { throw ArchiveDamage(path: snapshot.archiveLocation, entry: nil, reason: "ended before its manifest") }
            if !created { try createTables() }
            current = nil
            for object in schema where object.type != "table" {
                if let sql = object.sql { try db.executeCreate(sql) }
            }
            if !sequences.isEmpty {
                try db.execute("DELETE FROM sqlite_sequence")
                let insert = try db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)")
                for (name, value) in sequences {
                    insert.reset()
                    try insert.bind(name, at: 1)
                    try value.bind(to: insert, at: 2)
                    try insert.step()
                }
            }
            try db.execute("COMMIT")
            if header.source.journalMode == "wal" {
                try db.execute("PRAGMA journal_mode = WAL")
            } else {
                try db.execute("PRAGMA journal_mode = DELETE")
            }
        } catch {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
            throw error
        }
        progress?.finish()
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
        // link() fails if the path appeared meanwhile (Veloquent may have created the database): never replace it.
        guard link(temporary, path) == 0 else {
            let reason = errno == EEXIST ? "it appeared while restoring; nothing was replaced" : String(cString: strerror(errno))
            unlink(temporary)
            throw VeloError("\(path): \(reason)")
        }
        unlink(temporary)
        FileSystem.syncDirectory((path as NSString).deletingLastPathComponent)
        let elapsed = ContinuousClock.now - started
        return Result(snapshot: snapshotID, path: path, rows: rows, seconds: elapsed.inSeconds)
    }
}
