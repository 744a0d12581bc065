import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo plan`: compares a snapshot with the target database before one row is written, and says per collection
/// and table what a restore will do and what stops it. Checks, in order: the archive's checksums and format; the
/// target (SQLite, Veloquent or new, unfinished schema jobs); the schema version; each collection's table;
/// rows (insert, conflicting, identical, only in the target); unique collisions; stale relations; foreign keys;
/// secrets bound to `APP_KEY`; free disk space.
public struct RestorePlanner {
    /// What the planner learned from the archive, kept for the import.
    struct ArchiveFacts {
        var header: SnapshotHeader
        var manifest: Manifest
        var sha256: String
        var schema: ArchiveSchema
        var collections: [CollectionMetadata]
        var collectionRows: [String: [RecordValue]]
        /// True when the archive was not read in full yet: the catalog's manifest checks every entry as the rows
        /// pass reads it, and the archive's SHA-256 is compared with the catalog's at its end.
        var verifyWhileReading = false
    }

    /// The tables a restore touches, with the collection that owns each.
    struct Selection {
        var collections: [CollectionMetadata]
        var tables: [(name: String, collection: String?)]
    }

    static let exampleLimit = 5

    /// Reads the archive's header, schema and collection metadata, after checking every byte of it.
    static func readArchive(
        _ snapshot: SelectedSnapshot, progress: (any ProgressObserver)?, verifyWhileReading: Bool = false
    ) throws -> (ArchiveFacts?, [RestorePlan.Finding]) {
        if verifyWhileReading, case .catalogued(let entry, let repository) = snapshot {
            // A catalogued snapshot: the catalog has the manifest, so the one pass over the rows can check every
            // entry (and, at its end, the archive's own SHA-256) instead of a separate full read first.
            let detail = try repository.catalog.detail(entry.id)
            do {
                var facts = try readStart(snapshot, header: detail.header, manifest: detail.manifest, sha256: entry.archiveSHA256)
                facts.verifyWhileReading = true
                return (facts, [])
            } catch let damage as ArchiveDamage {
                return (nil, [archiveFinding(damage.description)])
            }
        }
        let audit = try ArchiveAudit.run(
            path: snapshot.archiveLocation, open: { try snapshot.openReader() }, expectedSHA256: snapshot.catalogEntry?.archiveSHA256,
            expectedBytes: snapshot.catalogEntry?.archiveBytes, expectedAt: snapshot.catalogEntryLocation,
            recordedManifest: try snapshot.catalogRecord()?.manifest, recordedAt: snapshot.catalogRecordLocation,
            progress: progress)
        guard audit.problems.isEmpty, let header = audit.header, let manifest = audit.manifest else {
            let findings = audit.problems.prefix(10).map {
                RestorePlan.Finding(
                    severity: .error, check: "archive", collection: nil, table: nil, message: "archive is damaged: \($0)", count: nil,
                    examples: [])
            }
            return (nil, Array(findings))
        }
        do {
            return (try readStart(snapshot, header: header, manifest: manifest, sha256: audit.archiveSHA256), [])
        } catch let damage as ArchiveDamage {
            return (nil, [archiveFinding(damage.description)])
        }
    }

    static func archiveFinding(_ problem: String) -> RestorePlan.Finding {
        .init(
            severity: .error, check: "archive", collection: nil, table: nil, message: "archive is damaged: \(problem)", count: nil,
            examples: [])
    }

    /// The schema and the collection rows, from the start of the archive.
    static func readStart(_ snapshot: SelectedSnapshot, header: SnapshotHeader, manifest: Manifest, sha256: String) throws -> ArchiveFacts {
        let reader = try SnapshotReader(snapshot, manifest: manifest)
        // The header the plan goes by is the archive's: one the catalog recorded otherwise is damage of the record.
        if reader.header != header {
            throw ArchiveDamage(
                path: snapshot.catalogRecordLocation ?? snapshot.archiveLocation, entry: ArchiveFormat.headerPath,
                reason: "differs from the header the catalog recorded for this snapshot")
        }
        let metadata = try SnapshotMetadata(reading: reader)
        // DDL that no restore would run (a smuggled second statement) blocks the plan as restore would refuse it.
        if let problem = metadata.schema.problems.first {
            throw ArchiveDamage(path: snapshot.archiveLocation, entry: ArchiveFormat.schemaPath, reason: problem)
        }
        return ArchiveFacts(
            header: header, manifest: manifest, sha256: sha256, schema: metadata.schema,
            collections: metadata.collections, collectionRows: metadata.collectionRows)
    }

    /// Which tables the options select.
    static func select(_ facts: ArchiveFacts, options: RestoreOptions, fullRestore: Bool) throws -> Selection {
        let userCollections = facts.collections.filter { !$0.isSystem }
        if let names = options.collections {
            let known = Set(facts.collections.map(\.name))
            let unknown = names.filter { !known.contains($0) }
            if !unknown.isEmpty {
                throw VeloError(
                    "the snapshot has no collection \(unknown.joined(separator: ", ")); it has \(known.sorted().joined(separator: ", "))")
            }
        }
        let chosen =
            options.collections.map { names in facts.collections.filter { names.contains($0.name) && !$0.isSystem } } ?? userCollections
        let archived = Set(facts.manifest.tables.map(\.name))
        var tables: [(String, String?)] = []
        if fullRestore {
            return Selection(collections: facts.collections, tables: facts.manifest.tables.map { ($0.name, $0.collection) })
        }
        let chosenNames = Set(chosen.map(\.name))
        let system = Set(options.systemTables ?? RestoreOptions.defaultSystemTables)
        for table in facts.manifest.tables {
            if let owner = table.collection, chosenNames.contains(owner), table.role == "collection" || table.role == "pivot" {
                tables.append((table.name, owner))
            } else if system.contains(table.name) {
                tables.append((table.name, table.collection))
            }
        }
        let allowed = Set(RestoreOptions.defaultSystemTables)
        for name in options.systemTables ?? [] {
            guard allowed.contains(name) else {
                throw VeloError(
                    "\(name): not a system table a restore merges (choose from \(RestoreOptions.defaultSystemTables.joined(separator: ", ")))",
                    setting: "system_tables")
            }
            if !archived.contains(name) {
                throw VeloError("\(name): the snapshot holds no rows of that table", setting: "system_tables")
            }
        }
        return Selection(collections: chosen, tables: tables)
    }

    /// Plans the restore. With `connection`, the target is read through it (the executor's write transaction).
    package static func plan(
        _ snapshot: SelectedSnapshot, target: String, options: RestoreOptions, busyTimeout: Duration,
        connection: Database?, repository: Repository? = nil, progress: (any ProgressObserver)? = nil
    ) throws -> RestorePlan {
        try prepare(
            snapshot, target: target, options: options, busyTimeout: busyTimeout, connection: connection, repository: repository,
            progress: progress
        ).plan
    }

    /// Plans the restore and keeps what planning read of the archive (its facts, the selection), so that the
    /// restore that follows runs exactly this plan and reads the archive only for its rows (`PreparedRestore`).
    package static func prepare(
        _ snapshot: SelectedSnapshot, target: String, options: RestoreOptions, busyTimeout: Duration,
        connection: Database?, repository: Repository? = nil, progress: (any ProgressObserver)? = nil
    ) throws -> PreparedRestore {
        let targetPath = FileSystem.absolute(target)
        let (facts, archiveFindings) = try readArchive(
            snapshot, progress: progress,
            verifyWhileReading: FileManager.default.fileExists(atPath: targetPath))
        let exists = FileManager.default.fileExists(atPath: targetPath)
        guard let facts else {
            return PreparedRestore(
                plan: RestorePlan(
                    snapshot: snapshot.id ?? "", archive: snapshot.archiveLocation, target: targetPath, targetExists: exists,
                    canProceed: false, findings: archiveFindings, tables: [],
                    fingerprints: .init(archiveSHA256: "", targetSchema: "", targetData: ""), options: options),
                snapshot: snapshot, facts: nil, selection: nil)
        }
        var findings: [RestorePlan.Finding] = []
        func add(
            _ severity: SchemaFinding.Severity, _ check: String, collection: String? = nil, table: String? = nil, _ message: String,
            count: Int? = nil, examples: [String] = []
        ) {
            findings.append(
                .init(
                    severity: severity, check: check, collection: collection, table: table, message: message, count: count,
                    examples: examples))
        }
        if !exists {
            let full = options.collections == nil && options.systemTables == nil
            let selection = try select(facts, options: options, fullRestore: full)
            // Exactly the tables the restore writes rows into: with a selection, also the collections' metadata and
            // the migrations (and, always, the autoincrement counters).
            let only: Set<String>? = full ? nil : Set(selection.tables.map(\.name) + ["collections", "migrations"])
            let tables = NewDatabaseRestore.writtenTables(facts.manifest.tables.map(\.name), only: only).map { name in
                let collection = facts.manifest.table(name)?.collection
                return RestorePlan.TablePlan(
                    table: name, collection: collection, strategy: options.strategy(for: collection), action: "create",
                    insert: facts.manifest.table(name)?.rows ?? 0)
            }
            add(
                .info, "target",
                "\(targetPath) does not exist: a full restore into a new database (the archive's DDL, then the rows, then the indexes)")
            checkDisk(facts, selection: selection, insertedShare: 1, target: targetPath, targetBytes: 0, repository: nil, add: add)
            return PreparedRestore(
                plan: RestorePlan(
                    snapshot: facts.header.id, archive: snapshot.archiveLocation, target: targetPath, targetExists: false,
                    canProceed: !findings.contains { $0.severity == .error }, findings: findings, tables: tables,
                    fingerprints: .init(archiveSHA256: facts.sha256, targetSchema: "new", targetData: "new"), options: options),
                snapshot: snapshot, facts: facts, selection: selection)
        }
        let db = try connection ?? Database(path: targetPath, mode: .readOnly, busyTimeout: busyTimeout)
        // One read transaction for the whole plan: a consistent view, and no lock taken per lookup.
        if connection == nil { try db.execute("BEGIN") }
        defer { if connection == nil { try? db.execute("COMMIT") } }
        let layout: TenantDatabase
        do {
            layout = try TenantDatabase.load(db)
        } catch let error as ModelError {
            add(.error, "target", "\(error)")
            return PreparedRestore(
                plan: RestorePlan(
                    snapshot: facts.header.id, archive: snapshot.archiveLocation, target: targetPath, targetExists: true, canProceed: false,
                    findings: findings, tables: [], fingerprints: .init(archiveSHA256: facts.sha256, targetSchema: "", targetData: ""),
                    options: options),
                snapshot: snapshot, facts: facts, selection: nil)
        }
        let selection = try select(facts, options: options, fullRestore: false)
        // 2. Unfinished schema operations in the target.
        for job in try SchemaHealth.schemaJobs(db, layout: layout) {
            add(.error, "target", collection: job.collection, table: job.table, job.message + "; run 'velo schema recover' first")
        }
        // 3. Schema version.
        let targetMigrations = Set(layout.appliedMigrations)
        let archiveMigrations = Set(facts.header.source.migrations)
        let missing = facts.header.source.migrations.filter { !targetMigrations.contains($0) }
        if !missing.isEmpty {
            add(
                .error, "schema-version", "the target lacks \(missing.count) migrations the archive has (upgrade Veloquent first)",
                count: missing.count, examples: Array(missing.prefix(exampleLimit)))
        }
        let newer = layout.appliedMigrations.filter { !archiveMigrations.contains($0) }
        if !newer.isEmpty {
            add(
                .warning, "schema-version", "the target has \(newer.count) migrations the archive lacks (a newer Veloquent)",
                count: newer.count, examples: Array(newer.prefix(exampleLimit)))
        }
        // 4. Collections.
        var tablePlans: [String: RestorePlan.TablePlan] = [:]
        for t in selection.tables {
            tablePlans[t.name] = .init(
                table: t.name, collection: t.collection, strategy: options.strategy(for: t.collection),
                action: layout.schema.table(t.name) == nil ? "create" : "merge")
        }
        for c in selection.collections where !c.isSystem {
            let strategy = options.strategy(for: c.name)
            if let existing = layout.collection(named: c.name) {
                if existing.id != c.id {
                    add(
                        .warning, "collection", collection: c.name,
                        "collection \(c.name) has id \(existing.id) in the target and \(c.id) in the archive; relations are matched by name, as Veloquent does"
                    )
                }
                if existing.tableName != c.tableName {
                    add(
                        .error, "collection", collection: c.name,
                        "collection \(c.name) uses table \(existing.tableName) in the target and \(c.tableName) in the archive")
                }
                let same =
                    existing.columns.count == c.columns.count
                    && zip(existing.columns, c.columns).allSatisfy {
                        $0.name == $1.name && ($0.name == "id" || $0.value.isIdentical(to: $1.value))
                    }
                add(
                    .info, "collection", collection: c.name,
                    same
                        ? "collection \(c.name): definition identical"
                        : (strategy == .overwrite
                            ? "collection \(c.name): the archive's definition replaces the target's"
                            : "collection \(c.name): the target's definition is kept (skip)"))
            } else if let owner = layout.collection(forTable: c.tableName) {
                add(
                    .error, "collection", collection: c.name,
                    "collection \(c.name) is new to the target, but its table \(c.tableName) belongs to the target's collection \(owner.name)"
                )
            } else if layout.schema.table(c.tableName) != nil {
                add(
                    .error, "collection", collection: c.name,
                    "collection \(c.name) is new to the target, but a table \(c.tableName) already exists there")
            } else if let other = layout.collections.first(where: { $0.id == c.id }) {
                add(
                    .error, "collection", collection: c.name,
                    "collection \(c.name) is new to the target, but its id \(c.id) is the target's collection \(other.name)")
            } else {
                add(
                    .info, "collection", collection: c.name,
                    "collection \(c.name) is absent from the target: it will be created with table \(c.tableName)")
            }
        }
        // What the restore changes in each table the target has, and what its rows then meet.
        var changes: [String: TableChanges] = [:]
        for t in selection.tables {
            guard let archiveTable = facts.schema.schema.table(t.name), let targetTable = layout.schema.table(t.name) else { continue }
            let change = try TableChanges.plan(
                table: t.name, archive: archiveTable, archiveSchema: facts.schema, target: targetTable, db: db,
                strategy: options.strategy(for: t.collection),
                replacesDefinition: replacesDefinition(t.collection, selection: selection, layout: layout, options: options),
                collection: facts.collections.first { $0.name == t.collection && $0.tableName == t.name }
            ) { severity, message in
                add(severity, "collection", collection: t.collection, table: t.name, message)
            }
            changes[t.name] = change
            tablePlans[t.name]?.addColumns = change.addColumns.map(\.name)
            tablePlans[t.name]?.retypeColumns = change.retypeColumns
            tablePlans[t.name]?.createIndexes = change.createIndexes.map(\.name)
            tablePlans[t.name]?.dropIndexes = change.dropIndexes
        }
        // 5–8. Rows, unique collisions, relations and foreign keys, in one pass over the archive.
        let rowsPass = try RowsPass(facts: facts, selection: selection, layout: layout, target: db, plans: tablePlans, changes: changes)
        do {
            try rowsPass.run(snapshot: snapshot, progress: progress)
        } catch let damage as ArchiveDamage {
            findings.append(archiveFinding(damage.description))
        }
        for finding in rowsPass.findings { findings.append(finding) }
        let plans = selection.tables.compactMap { rowsPass.plans[$0.name] }
        // 9. Secrets that only the same APP_KEY decrypts.
        if let providers = plans.first(where: { $0.table == "oauth_providers" }), providers.insert + providers.conflicting > 0 {
            add(
                .info, "secrets", table: "oauth_providers",
                "OAuth client secrets are encrypted with Veloquent's APP_KEY: they decrypt only with the same key")
        }
        if plans.contains(where: { $0.table == "settings" }) {
            add(
                .info, "secrets", table: "settings",
                "encrypted settings (storage.s3_key, storage.s3_secret, email.mail_password, ai.ai_api_key) decrypt only with the same APP_KEY"
            )
        }
        // 10. Disk space.
        var total = 0, inserted = 0
        for p in plans { total += p.insert + p.conflicting + p.identical; inserted += p.insert }
        let share: Double = total == 0 ? 0 : Double(inserted) / Double(total)
        checkDisk(
            facts, selection: selection, insertedShare: share, target: targetPath, targetBytes: try FileSystem.fileSize(targetPath),
            repository: repository, add: add)
        let plan = RestorePlan(
            snapshot: facts.header.id, archive: snapshot.archiveLocation, target: targetPath, targetExists: true,
            canProceed: !findings.contains { $0.severity == .error }, findings: findings, tables: plans,
            fingerprints: .init(
                archiveSHA256: facts.sha256, targetSchema: try schemaFingerprint(db),
                targetData: try dataFingerprint(db, layout: layout, tables: selection.tables.map(\.name))),
            options: options, changes: changes)
        return PreparedRestore(plan: plan, snapshot: snapshot, facts: facts, selection: selection)
    }

    /// Whether the archive's definition of `collection` replaces the target's: an existing user collection restored
    /// with `overwrite`. Then its tables take the archive's columns, column types and managed indexes.
    static func replacesDefinition(_ collection: String?, selection: Selection, layout: TenantDatabase, options: RestoreOptions) -> Bool {
        guard let name = collection, let c = selection.collections.first(where: { $0.name == name }), !c.isSystem,
            layout.collection(named: name) != nil
        else { return false }
        return options.strategy(for: name) == .overwrite
    }

    static func checkDisk(
        _ facts: ArchiveFacts, selection: Selection, insertedShare: Double, target: String, targetBytes: Int64,
        repository: Repository?, add: (SchemaFinding.Severity, String, String?, String?, String, Int?, [String]) -> Void
    ) {
        let names = Set(selection.tables.map(\.name))
        let archived = facts.manifest.entries.filter { $0.table.map(names.contains) ?? false }.reduce(Int64(0)) { $0 + $1.bytes }
        // Rows take about as much room in SQLite as in the archive's text, indexes about half again.
        let growth = Int64(Double(archived) * insertedShare * 1.5)
        let safety = repository != nil ? targetBytes / 3 : 0
        let directory = (target as NSString).deletingLastPathComponent
        var fs = statvfs()
        if statvfs(directory.isEmpty ? "." : directory, &fs) == 0 {
            let free = Int64(fs.f_bavail) * Int64(fs.f_frsize)
            let needed = growth + safety
            add(
                free < needed ? .error : .info, "disk", nil, nil,
                "\(free / 1_048_576) MiB free where the target is; the restore needs about \(needed / 1_048_576) MiB (growth \(growth / 1_048_576) MiB, safety snapshot \(safety / 1_048_576) MiB)",
                nil, [])
        }
    }

    /// SHA-256 of the target's schema (every object's SQL).
    static func schemaFingerprint(_ db: Database) throws -> String {
        var digest = SHA256Digest()
        try db.prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_schema ORDER BY name").forEachRow { row in
            digest.update(Array((row.string(0) + "\u{1F}" + row.string(1) + "\u{1F}" + row.string(2) + "\u{1E}").utf8))
        }
        return digest.hex()
    }

    /// SHA-256 of what changes when rows change: per table its count, largest rowid and newest `updated_at`.
    static func dataFingerprint(_ db: Database, layout: TenantDatabase, tables: [String]) throws -> String {
        var digest = SHA256Digest()
        for name in tables + ["collections"] {
            guard let table = layout.schema.table(name) else { continue }
            let rowid = table.withoutRowID ? "0" : "max(rowid)"
            let updated = table.column("updated_at") != nil ? "max(\"updated_at\")" : "NULL"
            let row = try db.rows("SELECT count(*), \(rowid), \(updated) FROM \(SQL.quote(name))").first ?? []
            digest.update(Array((name + ":" + row.map { "\($0)" }.joined(separator: ",") + "\n").utf8))
        }
        return digest.hex()
    }
}
