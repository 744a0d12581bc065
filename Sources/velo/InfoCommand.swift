import ArgumentParser
import VeloKit

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a Veloquent database: schema version, collections, system tables, tenants.",
        discussion: "Opens the database read-only; never writes to it.")

    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOptions

    func run() throws {
        let path = try database.path()
        let db = try Database(path: path, mode: .readOnly, busyTimeout: database.timeout)
        let layout = try TenantDatabase.load(db)
        let info = try DatabaseInfo.gather(from: db, layout: layout)
        if output.json {
            try Output.json(info)
        } else {
            print(InfoCommand.render(info))
        }
    }

    static func render(_ info: DatabaseInfo) -> String {
        var lines: [String] = []
        lines.append("\(info.path): Veloquent \(info.kind.rawValue) database")
        lines.append("  schema version  \(info.schemaVersion ?? "unknown (no migrations table)") (\(info.migrationsApplied) migrations)")
        if !info.missingMigrations.isEmpty {
            lines.append("  not applied     \(info.missingMigrations.joined(separator: ", "))")
        }
        if !info.unknownMigrations.isEmpty {
            lines.append("  unknown to velo \(info.unknownMigrations.joined(separator: ", "))")
        }
        lines.append(
            "  file            \(Output.bytes(info.fileBytes)), \(Output.grouped(info.pageCount)) pages of \(info.pageSize) bytes, journal mode \(info.journalMode)"
        )
        if !info.collections.isEmpty {
            lines.append("")
            lines.append("Collections (\(info.collections.count)):")
            var rows: [[String]] = []
            for c in info.collections {
                rows.append([
                    c.name, c.type + (c.system ? " (system)" : ""), c.table, c.rows.map(Output.grouped) ?? "missing",
                    String(c.fields), c.relationTargets.joined(separator: ","),
                ])
                for p in c.pivots {
                    rows.append(["  ↳ \(p.field)", "pivot", p.table, p.rows.map(Output.grouped) ?? "missing", "", p.target ?? ""])
                }
            }
            lines.append(Output.table(["NAME", "TYPE", "TABLE", "ROWS", "FIELDS", "RELATIONS"], rows))
        }
        if !info.systemTables.isEmpty {
            lines.append("")
            lines.append("System tables (\(info.systemTables.count)):")
            lines.append(
                Output.table(["TABLE", "ROLE", "ROWS"], info.systemTables.map { [$0.name, $0.role.rawValue, Output.grouped($0.rows)] }))
        }
        if !info.otherTables.isEmpty {
            lines.append("")
            lines.append("Other tables (\(info.otherTables.count)):")
            lines.append(
                Output.table(["TABLE", "ROLE", "ROWS"], info.otherTables.map { [$0.name, $0.role.rawValue, Output.grouped($0.rows)] }))
        }
        if !info.tenants.isEmpty {
            lines.append("")
            lines.append("Tenants (\(info.tenants.count)):")
            lines.append(
                Output.table(
                    ["ID", "NAME", "DOMAIN", "DATABASE"],
                    info.tenants.map { [String($0.id), $0.name, $0.domain ?? "", $0.database ?? "(this file)"] }))
        }
        return lines.joined(separator: "\n")
    }
}
