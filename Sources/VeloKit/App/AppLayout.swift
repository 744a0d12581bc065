import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A Veloquent installation on disk, as its `.env` and landlord describe it: the landlord database, each
/// tenant's database and uploads folder, or the one database of a single-tenant app. Paths follow Veloquent:
/// SQLite tenant databases as `tenants.database` stores them (absolute; a bare name is
/// `database/tenants/<name>.sqlite`), uploads under `storage/tenants/{id}/app/uploads/` (the id with anything
/// outside `[A-Za-z0-9_-]` made `_`, as `SwitchTenantFilesystemTask` does).
package struct AppLayout: Sendable {
    /// The app folder, absolute.
    package var root: String
    package var environment: AppEnvironment
    /// `VELO_TENANCY_ENABLED` (default true).
    package var tenancy: Bool
    /// `DB_CONNECTION` (default sqlite).
    package var driver: String
    /// `FILESYSTEM_DISK` (default local).
    package var disk: String
    /// The default connection's SQLite file: the landlord, or the single tenant's database.
    package var defaultDatabase: String

    /// Reads `DIR/.env`.
    /// - Throws: `.input` when DIR is not a folder or has no `.env`, or a line of `.env` is malformed.
    package static func load(_ directory: String) throws -> AppLayout {
        let root = FileSystem.absolute(directory)
        guard FileSystem.isDirectory(root) else { throw VeloError("\(directory): no such app folder") }
        let envPath = (root as NSString).appendingPathComponent(".env")
        guard FileSystem.exists(envPath) else {
            throw VeloError("\(envPath): no .env; an app is the folder of a Laravel app running Veloquent")
        }
        let env = try AppEnvironment(contentsOf: envPath)
        func flag(_ text: String?) throws -> Bool {
            switch text?.lowercased() {
            case nil, "", "true", "(true)", "1", "on", "yes": return true
            case "false", "(false)", "0", "off", "no": return false
            case let other?: throw VeloError("\(envPath): VELO_TENANCY_ENABLED=\(other) is not true or false")
            }
        }
        let tenancy = try flag(env["VELO_TENANCY_ENABLED"])
        // The landlord is the default connection (a skeleton may split it out as LANDLORD_DB_*).
        let driver =
            (env["LANDLORD_DB_CONNECTION"].flatMap { $0.isEmpty ? nil : $0 } ?? env["DB_CONNECTION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "sqlite").lowercased()
        let database = env["LANDLORD_DB_DATABASE"].flatMap { $0.isEmpty ? nil : $0 } ?? env["DB_DATABASE"].flatMap { $0.isEmpty ? nil : $0 }
        var layout = AppLayout(
            root: root, environment: env, tenancy: tenancy, driver: driver,
            disk: (env["FILESYSTEM_DISK"].flatMap { $0.isEmpty ? nil : $0 } ?? "local").lowercased(), defaultDatabase: "")
        layout.defaultDatabase = database.map(layout.resolveDefault) ?? layout.path("database/database.sqlite")
        return layout
    }

    /// `relative` inside the app folder.
    package func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    /// Laravel's SQLite `DB_DATABASE`: absolute as given; relative to the app folder if that exists, else to
    /// `database/` (what `SQLiteConnector` tries).
    func resolveDefault(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        let direct = path(name)
        return FileSystem.exists(direct) ? direct : path("database/" + name)
    }

    /// Veloquent's SQLite tenant database path for a `tenants.database` value (`TenantObserver`).
    package func tenantDatabasePath(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        if name.contains("/") || name.hasSuffix(".sqlite") { return path("database/" + name) }
        return path("database/tenants/\(name).sqlite")
    }

    /// The tenant's local storage disk root.
    package func storageRoot(tenantID: Int64) -> String {
        path("storage/tenants/\(Self.pathKey(tenantID))/app")
    }

    /// `SwitchTenantFilesystemTask::resolveTenantPathKey`.
    static func pathKey(_ id: Int64) -> String {
        String(String(id).map { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || $0 == "_" || $0 == "-" ? $0 : "_" })
    }

    /// The virtual tenant of single-tenant mode (`Tenant::getVirtualTenant`).
    static let virtualTenant = Tenant(id: 1, name: "Default Tenant", domain: "localhost", database: nil)

    /// Every source of the app: the landlord then each tenant (by id), or the single tenant. With `selectors`,
    /// only the sources they name (`landlord`, or a tenant's name, domain or id); a selector that names none is
    /// refused. Reads the landlord's `tenants` table read-only.
    package func sources(selecting selectors: [String]? = nil, busyTimeout: Duration = .seconds(5)) throws -> [TenantSource] {
        let sqlite = driver == "sqlite"
        let driverReason = sqlite ? nil : "the database driver is \(driver) (DB_CONNECTION); velo backs up SQLite databases only"
        let filesReason = disk == "s3" ? "uploads are on S3 (FILESYSTEM_DISK=s3); velo backs up local uploads only" : nil
        var all: [TenantSource] = []
        if !tenancy {
            all.append(
                TenantSource(
                    kind: .singleTenant, tenant: Self.virtualTenant, databasePath: sqlite ? defaultDatabase : nil,
                    filesRoot: filesReason == nil ? storageRoot(tenantID: 1) : nil, notCovered: driverReason ?? filesReason))
        } else if !sqlite {
            all.append(TenantSource(kind: .landlord, tenant: nil, databasePath: nil, filesRoot: nil, notCovered: driverReason))
        } else {
            try DatabaseFile.check(defaultDatabase)
            let db = try Database(path: defaultDatabase, mode: .readOnly, busyTimeout: busyTimeout)
            let schema = try SQLiteSchema.read(from: db)
            guard schema.table("tenants") != nil else {
                throw VeloError(
                    "\(defaultDatabase): the landlord database has no tenants table (VELO_TENANCY_ENABLED is true)", kind: .notVeloquent)
            }
            let tenants = try Landlord.tenants(in: db, schema: schema)
            all.append(TenantSource(kind: .landlord, tenant: nil, databasePath: defaultDatabase, filesRoot: nil, notCovered: nil))
            for tenant in tenants {
                guard let name = tenant.database, !name.isEmpty else {
                    all.append(
                        TenantSource(
                            kind: .tenant, tenant: tenant, databasePath: nil, filesRoot: nil,
                            notCovered: "the landlord lists no database for it"))
                    continue
                }
                all.append(
                    TenantSource(
                        kind: .tenant, tenant: tenant, databasePath: tenantDatabasePath(name),
                        filesRoot: filesReason == nil ? storageRoot(tenantID: tenant.id) : nil, notCovered: filesReason))
            }
        }
        guard let selectors, !selectors.isEmpty else { return all }
        for selector in selectors where !all.contains(where: { $0.matches(selector) }) {
            let known = all.map(\.label).joined(separator: ", ")
            throw VeloError("\(root): no tenant '\(selector)' (the app has: \(known))", kind: .usage)
        }
        return all.filter { source in selectors.contains { source.matches($0) } }
    }
}
