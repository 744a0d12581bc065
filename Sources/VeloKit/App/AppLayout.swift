import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A Veloquent installation on disk, as its `.env` and landlord describe it: the landlord database, each
/// tenant's database and uploads folder, or the one database of a single-tenant app. Paths follow Veloquent:
/// SQLite tenant databases as `tenants.database` stores them (absolute; a bare name is
/// `database/tenants/<name>.sqlite`), uploads under `storage/tenants/{id}/app/uploads/`, or with
/// `FILESYSTEM_DISK=s3` under `tenants/{id}/app/uploads/` of the bucket `AWS_*` name (the id with anything
/// outside `[A-Za-z0-9_-]` made `_`, as `SwitchTenantFilesystemTask` does). A tenant whose own storage settings
/// name a bucket has its uploads there instead (`TenantStorageSettings`, read when the tenant is backed up or
/// restored).
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

    /// Laravel's `AWS_USE_PATH_STYLE_ENDPOINT` (default false), which the tenants' own buckets use too.
    package var pathStyleEndpoint: Bool {
        ["true", "(true)", "1"].contains((environment["AWS_USE_PATH_STYLE_ENDPOINT"] ?? "").lowercased())
    }

    /// The tenant's storage disk as the app's `.env` configures it: its folder, or with `FILESYSTEM_DISK=s3`
    /// its prefix of the app's bucket (Laravel's `s3` disk: `AWS_BUCKET`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT`,
    /// `AWS_USE_PATH_STYLE_ENDPOINT`, and `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else velo's own
    /// credentials).
    /// - Throws: `.input` naming the setting when the bucket is not named or the endpoint is not a URL.
    package func uploads(tenantID: Int64) throws -> any UploadsDisk {
        guard disk == "s3" else { return LocalUploads(root: storageRoot(tenantID: tenantID)) }
        guard let bucket = environment["AWS_BUCKET"], !bucket.isEmpty else {
            throw VeloError("\(path(".env")): FILESYSTEM_DISK=s3 but AWS_BUCKET is not set; velo cannot find the uploads")
        }
        let location = try Self.bucketLocation(
            endpoint: environment["AWS_ENDPOINT"], region: environment["AWS_DEFAULT_REGION"], bucket: bucket,
            prefix: "tenants/\(Self.pathKey(tenantID))/app", pathStyle: pathStyleEndpoint,
            settings: (path(".env"), "AWS_BUCKET", "AWS_ENDPOINT"))
        var credentials: S3RequestSigner.Credentials?
        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty {
            credentials = .init(
                accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        return BucketUploads(location: location, credentials: credentials)
    }

    /// Where a Laravel S3 disk is: `endpoint` (a URL; empty for AWS's regional endpoint), `region` (empty for
    /// `us-east-1`), path-style or virtual-hosted.
    /// - Throws: `.input` naming the file and the setting when the bucket's name cannot be one (empty, a `/`,
    ///   a space or a control character) or the endpoint is not an http(s) URL.
    static func bucketLocation(
        endpoint: String?, region: String?, bucket: String, prefix: String, pathStyle: Bool,
        settings: (file: String, bucket: String, endpoint: String)
    ) throws -> S3Location {
        guard !bucket.isEmpty, bucket.count <= 255,
            !bucket.unicodeScalars.contains(where: {
                $0 == "/" || $0 == "\\" || $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F
            })
        else { throw VeloError("\(settings.file): \(settings.bucket) '\(bucket)' is not a bucket name") }
        let region = region.flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        // A bucket that cannot be a host name (capitals, `_`; dots under TLS, which the certificate does not cover)
        // is addressed path-style, as the AWS SDK that Laravel uses does.
        let https = !(endpoint ?? "").lowercased().hasPrefix("http://")
        let hostLabel = bucket.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
        let pathStyle = pathStyle || !hostLabel || (https && bucket.contains("."))
        guard let endpoint, !endpoint.isEmpty else {
            return S3Location(
                scheme: "https", host: region == "us-east-1" ? "s3.amazonaws.com" : "s3.\(region).amazonaws.com", port: nil,
                bucket: bucket, prefix: prefix, region: region, pathStyle: pathStyle)
        }
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { throw VeloError("\(settings.file): \(settings.endpoint) '\(endpoint)' is not an http(s) URL") }
        return S3Location(scheme: scheme, host: host, port: url.port, bucket: bucket, prefix: prefix, region: region, pathStyle: pathStyle)
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
        // A disk velo cannot find makes each tenant not covered (the landlord has no uploads).
        func uploads(_ id: Int64) -> (disk: (any UploadsDisk)?, reason: String?) {
            do { return (try self.uploads(tenantID: id), nil) } catch { return (nil, "\(error)") }
        }
        var all: [TenantSource] = []
        if !tenancy {
            let files = uploads(1)
            all.append(
                TenantSource(
                    kind: .singleTenant, tenant: Self.virtualTenant, databasePath: sqlite ? defaultDatabase : nil,
                    uploads: files.disk, notCovered: driverReason ?? files.reason))
        } else if !sqlite {
            all.append(TenantSource(kind: .landlord, tenant: nil, databasePath: nil, uploads: nil, notCovered: driverReason))
        } else {
            try DatabaseFile.check(defaultDatabase)
            let db = try Database(path: defaultDatabase, mode: .readOnly, busyTimeout: busyTimeout)
            let schema = try SQLiteSchema.read(from: db)
            guard schema.table("tenants") != nil else {
                throw VeloError(
                    "\(defaultDatabase): the landlord database has no tenants table (VELO_TENANCY_ENABLED is true)", kind: .notVeloquent)
            }
            let tenants = try Landlord.tenants(in: db, schema: schema)
            all.append(TenantSource(kind: .landlord, tenant: nil, databasePath: defaultDatabase, uploads: nil, notCovered: nil))
            for tenant in tenants {
                guard let name = tenant.database, !name.isEmpty else {
                    all.append(
                        TenantSource(
                            kind: .tenant, tenant: tenant, databasePath: nil, uploads: nil,
                            notCovered: "the landlord lists no database for it"))
                    continue
                }
                let files = uploads(tenant.id)
                all.append(
                    TenantSource(
                        kind: .tenant, tenant: tenant, databasePath: tenantDatabasePath(name), uploads: files.disk,
                        notCovered: files.reason))
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
