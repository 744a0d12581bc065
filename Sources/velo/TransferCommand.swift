import ArgumentParser
import Foundation
import VeloKit

struct TransferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer",
        abstract: "Read and write Veloquent's schema-transfer payloads (its export/import).",
        discussion:
            "The same payload Veloquent's admin UI downloads (schema-transfer-<time>.json) and imports: version 1, metadata.collections, records keyed by table.",
        subcommands: [TransferOptionsCommand.self, TransferExportCommand.self, TransferImportCommand.self])
}

/// Splits `a,b` into names.
private func names(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

struct TransferOptionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "options",
        abstract: "What can be exported: the non-system collections and the system tables of the allow-list.")

    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOptions

    func run() throws {
        let path = try database.path()
        try Backup.checkSource(path, busyTimeout: database.timeout)
        let db = try Database(path: path, mode: .readOnly, busyTimeout: database.timeout)
        let options = PayloadExporter.options(try TenantDatabase.load(db))
        if output.json {
            print(JSONWriter.string(options, pretty: true))
            return
        }
        let rows = (options["collections"]?.arrayValue ?? []).map { c in
            [c["name"]?.stringValue ?? "", c["table_name"]?.stringValue ?? "", c["id"]?.stringValue ?? ""]
        }
        print("collections:")
        print(rows.isEmpty ? "  (none)" : Output.table(["NAME", "TABLE", "ID"], rows))
        print("system tables: \((options["system_tables"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", "))")
    }
}

struct TransferExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a transfer payload from a live database (--db) or a snapshot (SNAPSHOT --repo DIR).",
        discussion:
            "The same JSON value Veloquent's export gives for the same database. Without --collections every non-system collection is exported (Veloquent exports only the names it is sent). The payload holds password and token hashes: --out writes it atomically with mode 0600."
    )

    @Option(name: .long, help: ArgumentHelp("The live Veloquent database to export.", valueName: "path"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another process's lock on the database.", valueName: "seconds"))
    var busyTimeout: Double = 5

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var filter: SnapshotFilterOptions

    @Argument(help: ArgumentHelp("A snapshot to export offline: an id, id prefix, 'latest', or an archive path.", valueName: "snapshot"))
    var snapshot: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Collections to export (comma-separated names); default all non-system collections.", valueName: "a,b"))
    var collections: String?

    @Option(
        name: .long, help: ArgumentHelp("System tables to export too (comma-separated; see 'velo transfer options').", valueName: "a,b"))
    var systemTables: String?

    @Flag(name: .long, help: "Metadata only (include_records false).")
    var noRecords = false

    @Option(
        name: .long, help: ArgumentHelp("Write the payload to this file (mode 0600, atomic) instead of standard output.", valueName: "file")
    )
    var out: String?

    func run() throws {
        var options = PayloadExporter.Options()
        options.collections = collections.map(names)
        options.systemTables = systemTables.map(names) ?? []
        options.includeRecords = !noRecords
        for table in options.systemTables where !TransferPayload.allowedSystemTables.contains(table) {
            throw VeloError("Table '\(table)' is not allowed for export/import.")
        }
        let timeout = Duration.milliseconds(Int(max(0, busyTimeout) * 1000))
        let summary: PayloadExporter.Summary
        switch (db ?? ProcessInfo.processInfo.environment["VELO_DB"].flatMap { $0.isEmpty || snapshot != nil ? nil : $0 }, snapshot) {
        case (let path?, nil):
            let checked = try Backup.checkSource(path, busyTimeout: timeout)
            let output = try out.map(PayloadOutput.file) ?? .standardOutput()
            do {
                summary = try withExtendedLifetime(checked) {
                    try TransferExport.fromDatabase(
                        path, options: options, to: output, busyTimeout: timeout,
                        progress: TerminalProgress("export"))
                }
                try output.finish()
            } catch { output.abort(); throw error }
        case (nil, let name?):
            let repo = try repository.openIfGiven()
            let selected = try SelectedSnapshot.resolve(name, repository: repo, filter: filter.filter())
            let output = try out.map(PayloadOutput.file) ?? .standardOutput()
            do {
                summary = try TransferExport.fromSnapshot(
                    selected, repository: repo, options: options, to: output, progress: TerminalProgress("export"))
                try output.finish()
            } catch { output.abort(); throw error }
        default:
            throw VeloError("name one source: --db PATH (a live database) or SNAPSHOT (with --repo DIR, or an archive path)")
        }
        if !summary.unknownCollections.isEmpty {
            log.warning(
                "no collection named \(summary.unknownCollections.map { "'\($0)'" }.joined(separator: ", ")); left out, as Veloquent does")
        }
        if let out {
            let rows = summary.tables.reduce(0) { $0 + $1.rows }
            FileHandle.standardError.write(
                Data(
                    "exported \(Output.grouped(rows)) rows of \(summary.tables.count) tables to \(out) (\(Output.bytes(summary.bytes)))\n"
                        .utf8))
        }
    }
}

struct TransferImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a transfer payload into a database: planned first, then all or nothing.",
        discussion:
            "Accepts the bare payload, Veloquent's response envelope {\"message\",\"data\"} and the request body {\"payload\",\"conflict\"}. Gives the result Veloquent's import gives, except where Veloquent is lossy: every blocker is found before the target changes (exit 3, nothing written), everything is one transaction, JSON is not double-encoded, collection_id in system rows follows the collection id remapping. An existing target is snapshotted into --repo first (tag pre-import); a missing target is created as a fresh Veloquent database."
    )

    @Argument(help: ArgumentHelp("The payload file.", valueName: "payload"))
    var payload: String

    @Option(name: .long, help: ArgumentHelp("The database to import into (a missing file is created).", valueName: "path"))
    var target: String

    @Option(
        name: .long,
        help:
            "skip keeps the target's collections and rows, overwrite takes the payload's (default: the request body's conflict, else skip)."
    )
    var conflict: String?

    @Flag(name: .long, help: "Print the plan (what the import would do, what blocks it) and change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Confirm changing an existing database (review --dry-run first).")
    var yes = false

    @Flag(name: .long, help: "Do not snapshot the target before changing it.")
    var noSafetySnapshot = false

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var lock: BusyTimeoutOption
    @OptionGroup var output: OutputOptions

    func run() throws {
        var options = TransferImport.Options()
        if let conflict {
            guard let s = RestorePlan.Strategy(rawValue: conflict) else {
                throw VeloError("--conflict must be skip or overwrite, not '\(conflict)'")
            }
            options.conflict = s
        }
        options.dryRun = dryRun
        options.safetySnapshot = !noSafetySnapshot
        options.busyTimeout = lock.timeout
        if repository.repo != nil && noSafetySnapshot {
            throw VeloError("--repo and --no-safety-snapshot exclude each other", kind: .usage)
        }
        guard FileManager.default.fileExists(atPath: payload) else { throw VeloError("\(payload): no such file") }
        let exists = FileManager.default.fileExists(atPath: target)
        if exists && !dryRun && !yes {
            throw VeloError("\(target) exists: importing changes it; review 'velo transfer import --dry-run', then pass --yes")
        }
        let repo = exists && !dryRun && !noSafetySnapshot ? try repository.open(create: true) : nil
        let bar = TerminalProgress("import")
        let outcome = try TransferImport.run(payload: payload, target: target, options: options, repository: repo, progress: bar)
        bar.finish()
        if output.json {
            var pairs = outcome.result.json.objectValue ?? []
            if outcome.dryRun || !outcome.committed {
                pairs.insert(("can_proceed", .bool(outcome.result.canProceed)), at: 0)
                pairs.insert(("findings", outcome.result.findingsJSON), at: 1)
            }
            print(JSONWriter.string(.object(pairs), pretty: true))
            // Standard output keeps Veloquent's result shape; the undo goes to standard error.
            if let safety = outcome.safetySnapshot, let undo = outcome.undo {
                FileHandle.standardError.write(Data("safety snapshot \(safety) (tag pre-import); undo: \(undo)\n".utf8))
            }
        } else {
            print(Self.render(outcome))
        }
        if !outcome.result.canProceed {
            if output.json { throw ExitStatus.foundDamage }  // the findings are in the JSON already printed
            let first =
                outcome.result.blockers.first.map {
                    $0.message + ($0.examples.isEmpty ? "" : " (e.g. \($0.examples.prefix(3).joined(separator: "; ")))")
                } ?? "blocked"
            let more = outcome.result.blockers.count > 1 ? "; and \(outcome.result.blockers.count - 1) more" : ""
            throw VeloError("the import is blocked: \(first)\(more); nothing was changed", kind: .blocked)
        }
    }

    static func render(_ outcome: TransferImport.Outcome) -> String {
        let r = outcome.result
        var lines: [String] = []
        if outcome.dryRun {
            lines.append("plan: import into \(outcome.target) (conflict \(outcome.conflict.rawValue))")
        } else if outcome.committed {
            lines.append(
                "imported into \(outcome.target)\(outcome.created ? " (new database)" : "") in \(String(format: "%.1f", outcome.seconds)) s (conflict \(outcome.conflict.rawValue))"
            )
        } else {
            lines.append("import into \(outcome.target) blocked (conflict \(outcome.conflict.rawValue))")
        }
        for f in r.findings {
            let examples = f.examples.isEmpty ? "" : " (e.g. \(f.examples.prefix(3).joined(separator: "; ")))"
            lines.append("  \(f.severity.rawValue.uppercased().padding(toLength: 7, withPad: " ", startingAt: 0)) \(f.message)\(examples)")
        }
        for m in r.metadata { lines.append("  collection \(m.collection): \(m.action)\(m.warning.map { " (\($0))" } ?? "")") }
        let ordered = r.records.filter(\.system) + r.records.filter { !$0.system }
        let table = Output.table(
            ["TABLE", "INSERTED", "UPDATED", "SKIPPED"],
            ordered.map { t in
                [t.table, Output.grouped(t.counts.inserted), Output.grouped(t.counts.updated), Output.grouped(t.counts.skipped)]
            })
        if !table.isEmpty { lines.append(table) }
        if outcome.dryRun { lines.append(r.canProceed ? "the import can proceed" : "BLOCKED: \(r.blockers.count) blockers") }
        if let safety = outcome.safetySnapshot, let undo = outcome.undo {
            lines.append("safety snapshot \(safety) (tag pre-import); undo: \(undo)")
        }
        return lines.joined(separator: "\n")
    }
}
