import Foundation
import Hummingbird
import NIOCore
import VeloKit

/// velo's own routes under `backups`, superusers only; every `data` is what the matching CLI command prints
/// under `--json` (one definition in VeloKit for both). They work on the request's tenant database and on the
/// server's repository; with `--landlord`, a tenant sees and touches only the snapshots of its own database, and
/// an operator tenant's superusers (`ServerConfiguration.operators`) every snapshot.
struct BackupRoutes {
    let state: ServerState

    func register(on group: RouterGroup<VeloRequestContext>) {
        group.get("backups") { request, context in try await list(request, context) }
        group.get("backups/status") { request, context in try await status(request, context) }
        group.post("backups") { request, context in try await backup(request, context) }
        group.post("backups/verify") { _, context in try await verify(nil, context) }
        group.post("backups/prune") { request, context in try await prune(request, context) }
        group.get("backups/moments") { _, context in try await moments(context) }
        group.post("backups/moments/plan") { request, context in try await planMoment(request, context) }
        group.post("backups/moments/restore") { request, context in try await restoreMoment(request, context) }
        group.get("backups/{snapshot}") { _, context in try await inspect(context) }
        group.post("backups/{snapshot}/verify") { _, context in try await verify(try context.parameters.require("snapshot"), context) }
        group.post("backups/{snapshot}/plan") { request, context in try await plan(request, context) }
        group.post("backups/{snapshot}/restore") { request, context in try await restore(request, context) }
        group.get("backups/{snapshot}/archive") { request, context in try await download(request, context) }
        group.get("backups/{snapshot}/export") { _, context in try await export(context) }
    }

    /// `velo snapshots --json`: the tenant's snapshots, oldest first; `?tag=` (repeatable) keeps those with
    /// every tag.
    func list(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let tags: [String] = request.uri.queryParameters.getAll("tag").map { String($0) }
        let repository = try await state.repository(for: "listing snapshots")
        let state = self.state
        let rows: [SnapshotListing] = try await BlockingWork.run {
            try repository.catalog.scan().entries
                .filter { state.owns($0, tenant: tenant) && tags.allSatisfy($0.tags.contains) }
                .map { SnapshotListing($0, in: repository) }
        }
        return try Envelope.success(encoding: rows)
    }

    /// `velo status --json` of the sources this superuser sees: with `--landlord` the tenant's own database (every
    /// source for an operator tenant's), with `--db` every source of the repository (it is the served database's
    /// operator's). `?max_age=` and `?max_verify_age=` (26h, 2d, …) as the command's options, else the config's
    /// `max_age`. Beside the report: `name`, what a restore asks to be typed (the tenant's domain, else the served
    /// database's file name), `served`, the served database's file name, `retention`, the config's policy (null
    /// without one), `encrypted`, and with `--landlord` `tenants`, the tenant each source shown is.
    func status(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        var options = BackupStatus.Options()
        options.maxAge = state.configuration.maxAge
        var v = Validation.Collector()
        for field in ["max_age", "max_verify_age"] {
            guard let text = request.uri.queryParameters.get(field) else { continue }
            guard let interval = Interval.parse(text), interval.seconds > 0 else {
                v.add(field, "The \(field.replacingOccurrences(of: "_", with: " ")) field must be a span such as 26h or 2d.")
                continue
            }
            if field == "max_age" { options.maxAge = interval } else { options.maxVerifyAge = interval }
        }
        try v.check()
        let repository = try await state.repository(for: "reading the status")
        let chosen = options
        var report = try await BlockingWork.run { BackupStatus.evaluate(repository, options: chosen) }
        if !state.seesEverySource(tenant) {
            let own = FileSystem.absolute(tenant.databasePath)
            report.sources = report.sources.filter { FileSystem.absolute($0.source) == own }
            report.continuous = report.continuous.filter { FileSystem.absolute($0.source) == own }
            report.state = (report.sources.map(\.state) + report.continuous.map(\.state)).max() ?? .ok
            report.damagedCatalogEntries = []
        }
        guard case .object(var pairs) = try JSONValueEncoder().encode(report) else { throw APIError.service("the status cannot be read") }
        pairs.removeAll { $0.0 == "repository" || $0.0 == "cached" }
        pairs.append(("name", .string(tenant.domain ?? ClientJSON.clientPath(tenant.databasePath))))
        pairs.append(("served", .string(ClientJSON.clientPath(tenant.databasePath))))
        pairs.append(("retention", state.configuration.retention ?? .null))
        pairs.append(("encrypted", .bool(repository.isEncrypted)))
        if case .landlord(let landlord) = state.configuration.databases {
            let shown = Set((report.sources.map(\.source) + report.continuous.map(\.source)).map { FileSystem.absolute($0) })
            let busyTimeout = state.configuration.busyTimeout
            let tenants = try await BlockingWork.run { try Self.tenantsByFile(landlord: landlord, among: shown, busyTimeout: busyTimeout) }
            pairs.append(("tenants", .object(tenants)))
        }
        return Envelope.success(.object(pairs))
    }

    /// With `--landlord`, which tenant each shown source is, by its file name as the status names it: `{"name",
    /// "domain"}` from the landlord's `tenants` (a source no tenant names, the landlord itself, is left out), in
    /// the order of the file names.
    static func tenantsByFile(landlord path: String, among shown: Set<String>, busyTimeout: Duration) throws -> [(String, JSONValue)] {
        let landlord = try Database(path: path, mode: .readOnly, busyTimeout: busyTimeout)
        return try Landlord.tenants(in: landlord, schema: try SQLiteSchema.read(from: landlord)).compactMap { tenant in
            let file = tenant.database.flatMap { $0.isEmpty ? nil : $0 } ?? path
            guard shown.contains(FileSystem.absolute(file)) else { return nil }
            return (
                ClientJSON.clientPath(file),
                .object([("name", .string(tenant.name)), ("domain", tenant.domain.map(JSONValue.string) ?? .null)])
            )
        }.sorted { $0.0 < $1.0 }
    }

    /// `velo backup --json`: a snapshot of the tenant database, now. With `Accept: text/event-stream` the answer
    /// is server-sent events instead (`ServerSentEvent`): `progress` while it runs, then `result` (the JSON
    /// response's body) or `error` (the error body, with its `status`). A 409 (another operation holds the
    /// repository) and validation errors are answered as JSON before any event.
    func backup(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let body = try await JSONBody.read(request, limit: state.configuration.maxJSONBytes)
        var v = Validation.Collector()
        var options = Backup.Options()
        options.tags = v.strings(body, "tags") ?? []
        options.collections = v.strings(body, "collections")
        options.excludeTables = v.strings(body, "exclude_tables") ?? []
        options.includeFramework = v.bool(body, "include_framework") ?? false
        options.records = v.bool(body, "records") ?? true
        if let level = body["level"] {
            if let n = level.intValue, (1...19).contains(n) {
                options.level = Int32(n)
            } else {
                v.add("level", "The level field must be between 1 and 19.")
            }
        }
        try v.check()
        options.busyTimeout = state.configuration.busyTimeout
        let tenant = try context.requireTenant()
        let repository = try await state.repository(for: "a backup")
        let state = self.state
        let chosen = options
        let claim = try state.gate.claim([state.repositoryKey], for: "backup")
        let work = { (progress: ProgressEvents?) in
            try await state.gate.run(holding: claim, for: "backup") {
                try await BlockingWork.run {
                    let checked = try Backup.checkSource(tenant.databasePath, busyTimeout: chosen.busyTimeout)
                    return try withExtendedLifetime(checked) {
                        try Backup.run(databasePath: tenant.databasePath, repository: repository, options: chosen, progress: progress)
                    }
                }
            }
        }
        let message = "Backup completed successfully."
        guard ServerSentEvent.requested(by: request) else { return try Envelope.success(encoding: try await work(nil), message: message) }
        // The backup runs to its end whether or not the client stays (a snapshot is written whole or not at all),
        // holding the gate and counted as a stream that graceful shutdown waits for.
        let (events, continuation) = AsyncStream.makeStream(of: ServerSentEvent.self, bufferingPolicy: .bufferingNewest(64))
        let token = state.streams.begin()
        Task {
            defer { token.release() }
            do {
                let result = try await work(ProgressEvents(continuation))
                continuation.yield(.result(try JSONValueEncoder().encode(result), message: message))
            } catch {
                continuation.yield(.error(APIError.from(error)))
            }
            continuation.finish()
        }
        return ServerSentEvent.response(events)
    }

    /// `velo inspect --json`.
    func inspect(_ context: VeloRequestContext) async throws -> Response {
        let (selected, _) = try await select(context)
        let info = try await BlockingWork.run { try Inspection.inspect(selected) }
        return try Envelope.success(encoding: info)
    }

    /// `velo verify --json`: one snapshot, or (`POST backups/verify`) every snapshot of the tenant; always an
    /// array of reports, recorded in the catalog. Damage is a report with `ok: false`, not an error.
    func verify(_ name: String?, _ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let repository = try await state.repository(for: "verifying")
        var selected: [SelectedSnapshot] = []
        var damaged: [Verifier.Report] = []
        if name != nil {
            selected = [try await select(context).0]
        } else {
            let scan = try await BlockingWork.run { try repository.catalog.scan() }  // a bucket's is requests
            selected = scan.entries.filter { state.owns($0, tenant: tenant) }.map { .catalogued($0, repository: repository) }
            if case .single = state.configuration.databases { damaged = scan.damaged.map(Verifier.report(for:)) }
        }
        let snapshots = selected
        let reports = try await BlockingWork.run { try snapshots.map { try Verifier.verify($0) } }
        return try Envelope.success(encoding: damaged + reports)
    }

    /// `velo plan --json` into the tenant database.
    func plan(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let body = try await JSONBody.read(request, limit: state.configuration.maxJSONBytes)
        let options = try Self.restoreOptions(body)
        let (selected, repository) = try await select(context)
        let tenant = try context.requireTenant()
        let timeout = state.configuration.busyTimeout
        let plan = try await BlockingWork.run {
            try RestorePlanner.plan(selected, target: tenant.databasePath, options: options, busyTimeout: timeout, repository: repository)
        }
        return try Envelope.success(encoding: plan)
    }

    /// `velo restore --json` into the tenant database: only with `"confirm": true`; planned first (a blocked
    /// plan is 422 with its findings under `errors`), a safety snapshot, then one transaction. 409 while another
    /// operation holds the database or the repository.
    func restore(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let body = try await JSONBody.read(request, limit: state.configuration.maxJSONBytes)
        let options = try Self.restoreOptions(body)
        guard body["confirm"]?.boolValue == true else {
            throw Validation.failed([
                "confirm": ["A restore changes the database: review the plan (POST .../plan), then send \"confirm\": true."]
            ])
        }
        let (selected, repository) = try await select(context)
        return try await restore(selected, repository: repository, options: options, context)
    }

    /// Restores `selected` into the tenant database, as `restore` describes.
    func restore(
        _ selected: SelectedSnapshot, repository: Repository, options: RestoreOptions, _ context: VeloRequestContext
    )
        async throws -> Response
    {
        let tenant = try context.requireTenant()
        let timeout = state.configuration.busyTimeout
        let state = self.state
        let app = state.configuration.app
        let result: JSONValue = try await state.gate.with([state.databaseKey(tenant), state.repositoryKey], for: "restore") {
            try await BlockingWork.run {
                // The restore plans under the target's write lock and runs that plan; a plan that blocks comes back
                // with every finding.
                do {
                    // A tenant's snapshot, on a server of an app: its uploaded files too, as one operation.
                    if let app, case .catalogued(let entry, _) = selected, entry.app != nil {
                        let detail = try repository.catalog.detail(entry.id)
                        let target = try TenantRestore.target(app: app, header: detail.header, snapshot: selected)
                        guard FileSystem.absolute(target.database) == FileSystem.absolute(tenant.databasePath) else {
                            throw APIError.service(
                                "Snapshot \(SnapshotID.short(entry.id)) is of another source of the app than this tenant; nothing was changed."
                            )
                        }
                        let restored = try TenantRestore.run(
                            selected, into: target, manifest: detail.manifest, options: options, repository: repository,
                            safetySnapshot: true, busyTimeout: timeout)
                        var data = try JSONValueEncoder().encode(restored.database)
                        if case .object(var pairs) = data, let files = restored.files {
                            // The files' plan without the server's folder they went into.
                            if case .object(let plan) = try JSONValueEncoder().encode(files) {
                                pairs.append(("files", .object(plan.filter { $0.0 != "root" })))
                            }
                            data = .object(pairs)
                        }
                        return data
                    }
                    return try JSONValueEncoder().encode(
                        try Restore.run(
                            selected, target: tenant.databasePath, options: options, repository: repository,
                            safetySnapshot: true, busyTimeout: timeout))
                } catch let blocked as RestoreBlocked {
                    let plan = blocked.plan
                    let first = plan.blockers.first?.message ?? "blocked"
                    throw APIError.service(
                        ClientText.scrub(
                            "The restore is blocked: \(first)\(plan.blockers.count > 1 ? " (and \(plan.blockers.count - 1) more)" : ""); nothing was changed."
                        ),
                        errors: APIError.clientWords(try JSONValueEncoder().encode(plan.findings)))
                }
            }
        }
        return Envelope.success(ClientJSON.undoOverHTTP(result), message: "Restore completed successfully.")
    }

    /// The tenant database's continuous capture (`velo replicate`): its lag, the restorable window and gaps,
    /// as `velo status --json` reports them under `continuous`. 404 when nothing of it is captured.
    func moments(_ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let repository = try await state.repository(for: "reading continuous capture")
        let source = FileSystem.absolute(tenant.databasePath)
        let status = try await BlockingWork.run { () -> ReplicationStatus.Source? in
            guard let history = try ContinuousHistory.load(source: source, storage: repository.storage) else { return nil }
            return ReplicationStatus.evaluate(history, now: Timestamp.now * 1000, maxLag: Interval(seconds: 60))
        }
        guard let status else { throw APIError(.notFound, "This database is not captured continuously (velo replicate).") }
        return try Envelope.success(encoding: status)
    }

    /// `velo plan --at` into the tenant database: the body's `at` (ISO 8601, a moment of continuous capture) and
    /// the restore options of `plan`.
    func planMoment(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let body = try await JSONBody.read(request, limit: state.configuration.maxJSONBytes)
        let options = try Self.restoreOptions(body)
        let time = try Self.moment(body)
        let tenant = try context.requireTenant()
        let repository = try await state.repository(for: "reading continuous capture")
        let timeout = state.configuration.busyTimeout
        let (moment, plan) = try await BlockingWork.run {
            let moment = try MomentSnapshot(source: tenant.databasePath, at: time, repository: repository)
            let plan = try RestorePlanner.plan(
                moment.selected, target: tenant.databasePath, options: options, busyTimeout: timeout, repository: repository)
            return (moment.restore, plan)
        }
        return try Envelope.success(encoding: MomentPlan(moment: moment, plan: plan))
    }

    /// `velo restore --at --yes` into the tenant database: the moment merged like a snapshot, with `"confirm":
    /// true`, a safety snapshot first, as `restore` does.
    func restoreMoment(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let body = try await JSONBody.read(request, limit: state.configuration.maxJSONBytes)
        let options = try Self.restoreOptions(body)
        let time = try Self.moment(body)
        guard body["confirm"]?.boolValue == true else {
            throw Validation.failed([
                "confirm": ["A restore changes the database: review the plan (POST .../moments/plan), then send \"confirm\": true."]
            ])
        }
        let tenant = try context.requireTenant()
        let repository = try await state.repository(for: "reading continuous capture")
        let moment = try await BlockingWork.run { try MomentSnapshot(source: tenant.databasePath, at: time, repository: repository) }
        defer { withExtendedLifetime(moment) {} }  // its folder holds the snapshot until the restore ends
        return try await restore(moment.selected, repository: repository, options: options, context)
    }

    /// The body's `at`: a moment (ISO 8601, fractions of a second kept), in milliseconds.
    static func moment(_ body: JSONBody) throws -> Int64 {
        guard let text = body["at"]?.stringValue else { throw Validation.failed(["at": ["The at field is required."]]) }
        do { return try Timestamp.parseMilliseconds(text, option: "at") } catch {
            throw Validation.failed(["at": ["The at field must be a moment such as 2026-12-06T10:58:30Z."]])
        }
    }

    /// A plan of a moment: which moment, and the plan.
    struct MomentPlan: Encodable {
        var moment: PointInTimeRestore.Result
        var plan: RestorePlan
    }

    /// `velo prune --json` with the policy in the body (`{"policy": {...}, "dry_run": bool}`). With `--landlord`
    /// the repository holds every tenant's snapshots, so only an operator tenant's superusers may prune it here.
    func prune(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let body = try await JSONBody.read(request, limit: state.configuration.maxJSONBytes)
        var v = Validation.Collector()
        let dryRun = v.bool(body, "dry_run") ?? false
        if body["policy"] == nil {
            v.add("policy", "The policy field is required.")
        } else if body["policy"]?.objectValue == nil {
            v.add("policy", "The policy field must be an object.")
        }
        try v.check()
        let tenant = try context.requireTenant()
        if !state.seesEverySource(tenant) {
            throw APIError.service(
                "The repository holds every tenant's snapshots: one tenant cannot prune it; its operator prunes it with velo's own rounds or command."
            )
        }
        let policy: RetentionPolicy
        do { policy = try RetentionPolicy(json: body["policy"]!) } catch { throw APIError.from(error) }
        let repository = try await state.repository(for: "pruning")
        let state = self.state
        let report = try await state.gate.with([state.repositoryKey], for: "prune") {
            try await BlockingWork.run { try Prune.run(repository: repository, policy: policy, dryRun: dryRun) }
        }
        return try Envelope.success(encoding: report)
    }

    /// The archive file itself, streamed: `application/zstd`, `Content-Length`, `ETag` from its SHA-256
    /// (`If-None-Match` answers 304).
    func download(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let (selected, repository) = try await select(context)
        guard let entry = selected.catalogEntry else { throw APIError(.notFound, "Snapshot not found.") }
        let etag = "\"\(entry.archiveSHA256)\""
        if let match = request.headers[.ifNoneMatch],
            match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0 == "*" })
        {
            return Response(status: .notModified, headers: [.eTag: etag])
        }
        let (name, reader): (String, any StoredObjectReader) = try await BlockingWork.run {
            let archive = try repository.archiveName(of: entry)
            return ((archive.relativePath as NSString).lastPathComponent, try repository.storage.open(archive))
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/zstd", .eTag: etag,
                .contentDisposition: "attachment; filename=\"\(name)\"",
            ], body: FileStream.body(object: reader, streams: state.streams))
    }

    /// `velo export --decrypt`, downloaded: the snapshot as one self-contained format-1 archive (an incremental
    /// snapshot's stored archive names packs it does not hold), plaintext even from an encrypted repository (the
    /// superuser may read the database it restores into), for the offline audit of docs/FORMAT.md. Written to a
    /// private temporary folder first (a failure is a clean 422), then streamed with `Content-Length` and removed.
    func export(_ context: VeloRequestContext) async throws -> Response {
        let (selected, _) = try await select(context)
        guard let id = selected.id else { throw APIError(.notFound, "Snapshot not found.") }
        let directory = try TemporaryFolder.make()
        let name = "velo-\(SnapshotID.short(id)).tar.zst"
        let path = (directory as NSString).appendingPathComponent(name)
        let size: Int64
        do {
            size = try await BlockingWork.run {
                _ = try SnapshotExport.run(selected, out: path, decrypt: true)
                return try FileStream.size(of: path)
            }
        } catch {
            TemporaryFolder.remove(directory)
            throw error
        }
        let body = try FileStream.body(path: path, size: size, streams: state.streams, onFinish: { TemporaryFolder.remove(directory) })
        return Response(
            status: .ok,
            headers: [.contentType: "application/zstd", .contentDisposition: "attachment; filename=\"\(name)\""], body: body)
    }

    /// The snapshot named by `{snapshot}` (an id, a unique id prefix or `latest`) among the tenant's; never a path.
    func select(_ context: VeloRequestContext) async throws -> (SelectedSnapshot, Repository) {
        let tenant = try context.requireTenant()
        let name = try context.parameters.require("snapshot").lowercased()
        let repository = try await state.repository(for: "reading snapshots")
        let state = self.state
        let entry: CatalogEntry = try await BlockingWork.run {
            let entries = try repository.catalog.scan().entries.filter { state.owns($0, tenant: tenant) }
            if name == "latest" {
                guard let newest = entries.last else { throw APIError(.notFound, "Snapshot not found.") }
                return newest
            }
            let matches = name.isEmpty || name.contains("/") ? [] : entries.filter { $0.id.hasPrefix(name) }
            guard !matches.isEmpty else { throw APIError(.notFound, "Snapshot not found.") }
            guard matches.count == 1 else {
                throw APIError.service("snapshot '\(name)' is ambiguous: it matches \(matches.count) snapshots")
            }
            return matches[0]
        }
        return (.catalogued(entry, repository: repository), repository)
    }

    /// The restore options of a body: `conflict`, `conflict_for` (`{collection: strategy}`), `collections`,
    /// `system_tables` (an empty array restores none).
    static func restoreOptions(_ body: JSONBody) throws -> RestoreOptions {
        var v = Validation.Collector()
        var options = RestoreOptions()
        if let c = v.string(body, "conflict", in: ["skip", "overwrite"]) { options.conflict = RestorePlan.Strategy(rawValue: c)! }
        if let per = body["conflict_for"] {
            if let pairs = per.objectValue {
                for (name, value) in pairs {
                    guard let s = value.stringValue.flatMap(RestorePlan.Strategy.init(rawValue:)) else {
                        v.add("conflict_for.\(name)", "The selected conflict_for.\(name) is invalid.")
                        continue
                    }
                    options.conflictFor[name] = s
                }
            } else {
                v.add("conflict_for", "The conflict for field must be an object.")
            }
        }
        options.collections = v.strings(body, "collections")
        options.systemTables = v.strings(body, "system_tables")
        _ = v.bool(body, "confirm")
        try v.check()
        return options
    }
}
