import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo restore --tenant NAME --app DIR` and `velo plan --tenant … --app …`: which snapshot (the tenant's
/// newest, or the newest at or before a time), and where its database and files go in the app folder — the
/// tenant's own paths when the app's landlord lists it, else Veloquent's layout in a fresh folder
/// (`database/tenants/<file>` and `storage/tenants/{id}/app`, or the app's bucket with `FILESYSTEM_DISK=s3`).
/// A tenant whose database (the one a restore replaces) names a bucket of its own gets its files back there.
package enum TenantRestore {
    /// Where a snapshot restores to in an app.
    package struct Target: Sendable {
        package var database: String
        /// The storage disk the files go to; nil for the landlord.
        package var uploads: (any UploadsDisk)?
        /// Something the operator must still do (register the tenant in the landlord).
        package var note: String?
    }

    /// The tenant's newest snapshot, or its newest at or before `time`.
    /// - Throws: `.input` naming the tenants the repository has when none matches.
    package static func snapshot(of selector: String, in repository: Repository, at time: Int64? = nil) throws -> CatalogEntry {
        let all = try repository.catalog.entries()
        let mine = all.filter { SnapshotFilter.isOf($0, tenant: selector) }
        guard !mine.isEmpty else {
            let known = Set(all.compactMap { $0.app.map { $0.tenantName ?? "landlord" } }).sorted()
            throw VeloError(
                "\(repository.root): no snapshot of tenant '\(selector)'; \(known.isEmpty ? "it has no snapshot of an app's tenant" : "it has snapshots of: \(known.joined(separator: ", "))")"
            )
        }
        guard let time else { return mine.last! }
        guard let pick = mine.last(where: { $0.time <= time }) else {
            throw VeloError(
                "\(repository.root): tenant '\(selector)' has no snapshot at or before \(Timestamp.iso8601(time)); its oldest is \(Timestamp.iso8601(mine.first!.time))"
            )
        }
        return pick
    }

    /// Where the snapshot with `header` restores to in the app at `directory`. With `snapshot` (the same
    /// snapshot), the storage settings it holds decide a tenant's bucket of its own where no database is
    /// replaced, and must agree with those of the database being replaced: files are never put where the restored
    /// tenant will not look for them.
    /// - Throws: `.input` naming both places when the snapshot's settings and the replaced database's name
    ///   different disks for the tenant's uploads.
    package static func target(app directory: String, header: SnapshotHeader, snapshot: SelectedSnapshot? = nil) throws -> Target {
        let root = FileSystem.absolute(directory)
        let origin = header.source.app
        let kind = header.source.kind
        // An app with a .env and a landlord that lists the tenant: its own paths.
        var app: AppLayout?
        if FileSystem.exists((root as NSString).appendingPathComponent(".env")) {
            let layout = try AppLayout.load(root)
            app = layout
            let sources = try layout.sources()
            let match: TenantSource? = sources.first { source in
                switch (source.kind, kind) {
                case (.singleTenant, "single-tenant"), (.landlord, "landlord"): return true
                case (.tenant, "tenant"):
                    guard let tenant = source.tenant else { return false }
                    if let name = origin?.tenantName { return tenant.name == name }
                    return tenant.database.map { ($0 as NSString).lastPathComponent } == (header.source.path as NSString).lastPathComponent
                default: return false
                }
            }
            if let match {
                if let reason = match.notCovered { throw VeloError("\(root): \(match.label) cannot be restored here: \(reason)") }
                guard let database = match.databasePath else { throw VeloError("\(root): \(match.label) has no SQLite database") }
                guard kind != "landlord", let appDisk = match.uploads else { return Target(database: database, uploads: nil) }
                // A tenant with a bucket of its own (its storage settings): as the database being replaced has
                // them, and as the snapshot has them (what the tenant's database says after the restore).
                let replaced =
                    FileSystem.exists(database)
                    ? try TenantStorageSettings.ownBucket(database: database, layout: layout, busyTimeout: .seconds(5)) : nil
                let snapshotted = try snapshot.map { try TenantStorageSettings.ownBucket(snapshot: $0, layout: layout) }
                let uploads: any UploadsDisk = (FileSystem.exists(database) ? replaced : snapshotted ?? nil) ?? appDisk
                if FileSystem.exists(database), let snapshotted, snapshotted?.root != replaced?.root {
                    throw VeloError(
                        "\(root): \(match.label)'s uploads are in \((replaced ?? appDisk).root) by the database being replaced, in \((snapshotted ?? appDisk).root) by the snapshot's storage settings; velo does not choose: make the tenant's storage settings agree, or restore the database alone",
                        remedy: .restoreIntoTarget)
                }
                return Target(database: database, uploads: uploads)
            }
        }
        func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }
        // The snapshot's own bucket (its storage settings), else the disk the app's .env names for the tenant (its
        // bucket with FILESYSTEM_DISK=s3), else its folder.
        func uploads(_ id: Int64) throws -> any UploadsDisk {
            if let app, let snapshot, let own = try TenantStorageSettings.ownBucket(snapshot: snapshot, layout: app) { return own }
            return try app?.uploads(tenantID: id) ?? LocalUploads(root: path("storage/tenants/\(AppLayout.pathKey(id))/app"))
        }
        switch kind {
        case "landlord":
            return Target(database: path("database/database.sqlite"), uploads: nil)
        case "single-tenant":
            return Target(database: path("database/database.sqlite"), uploads: try uploads(1))
        default:
            let id = origin?.tenantID ?? 0
            guard id > 0 else {
                throw VeloError("\(header.source.path): the snapshot names no tenant of an app", remedy: .restoreIntoTarget)
            }
            let file = path("database/tenants/" + (header.source.path as NSString).lastPathComponent)
            let name = origin?.tenantName ?? String(id)
            return Target(
                database: file, uploads: try uploads(id),
                note:
                    "\(root): the landlord does not list tenant \(name): register it (id \(id), database \(file)) or restore the landlord too"
            )
        }
    }

    /// The manifest of `selected`: the catalog's, or (for a lone archive) read from the archive, checked whole.
    package static func manifest(of selected: SelectedSnapshot) throws -> Manifest {
        if let record = try selected.catalogRecord() { return record.manifest }
        let reader = try SnapshotReader(selected)
        guard let manifest = try reader.scan(tables: [], onRow: { _, _ in true }) else {
            throw ArchiveDamage(path: selected.archiveLocation, entry: ArchiveFormat.manifestPath, reason: "is missing")
        }
        return manifest
    }
}

extension TenantRestore {
    /// What a tenant restore would do: the database's plan, the files' plan (nil for the landlord), and what the
    /// operator must still do.
    package struct Plan: Encodable, Sendable {
        package var database: RestorePlan
        package var files: FilesRestore.Plan?
        package var note: String?
    }

    /// Plans restoring `selected` into its tenant's place in an app: the database against its target, the files
    /// against what the app's storage holds (`run` restores exactly this).
    package static func plan(
        _ selected: SelectedSnapshot, into target: Target, manifest: Manifest, options: RestoreOptions, repository: Repository?,
        busyTimeout: Duration = .seconds(5), progress: (any ProgressObserver)? = nil
    ) throws -> Plan {
        let database = try RestorePlanner.plan(
            selected, target: target.database, options: options, busyTimeout: busyTimeout, connection: nil, repository: repository,
            progress: progress)
        let files = try target.uploads.map {
            try FilesRestore.plan(manifest: manifest, archive: selected.archiveLocation, disk: $0, strategy: options.conflict)
        }
        return Plan(database: database, files: files, note: target.note)
    }

    /// What a tenant restore did: the database's result, the files' plan (nil for the landlord), and what the
    /// operator must still do.
    package struct Result: Encodable, Sendable {
        package var database: Restore.Result
        package var files: FilesRestore.Plan?
        package var note: String?
    }

    /// Restores `selected` (whose manifest is `manifest`) into its tenant's place in an app (`target`), database
    /// and uploaded files as one operation, for every front door: the files are planned and written aside
    /// first, the database restored all or nothing (under its plan, after its safety snapshot), then the files
    /// renamed into place; a database restore that fails deletes the files written aside.
    package static func run(
        _ selected: SelectedSnapshot, into target: Target, manifest: Manifest, options: RestoreOptions, repository: Repository?,
        savedPlan: Restore.SavedPlan? = nil, safetySnapshot: Bool = true, busyTimeout: Duration = .seconds(5),
        progress: (any ProgressObserver)? = nil
    ) throws -> Result {
        var staged: FilesRestore.Staged?
        var filesPlan: FilesRestore.Plan?
        if let disk = target.uploads {
            let plan = try FilesRestore.plan(manifest: manifest, archive: selected.archiveLocation, disk: disk, strategy: options.conflict)
            filesPlan = plan
            if !plan.writes.isEmpty {
                staged = try FilesRestore.stage(plan, manifest: manifest, reader: try SnapshotReader(selected))
            }
        }
        let database: Restore.Result
        do {
            try FileSystem.createDirectory((target.database as NSString).deletingLastPathComponent)
            database = try Restore.run(
                selected, target: target.database, options: options, repository: repository, savedPlan: savedPlan,
                safetySnapshot: safetySnapshot, safetyUploads: target.uploads, busyTimeout: busyTimeout, progress: progress,
                connectionSetup: nil)
        } catch {
            staged?.discard()
            throw error
        }
        try staged?.commit()
        return Result(database: database, files: filesPlan, note: target.note)
    }
}
