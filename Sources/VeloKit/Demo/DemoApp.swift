import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo demo --app DIR`: a whole Veloquent installation on disk, for tests, the quick start and benchmarks.
/// Multi-tenant: `.env`, a landlord database listing the tenants, one demo database per tenant under
/// `database/tenants/`, and each tenant's post covers written as uploaded files under
/// `storage/tenants/{id}/app/uploads/collections/posts/`, exactly where the records' file fields point.
/// Single-tenant (`tenants` 0): `database/database.sqlite` holds both, with files under `storage/tenants/1/`.
package struct DemoApp {
    package struct Options: Sendable {
        /// Tenants to make; 0 makes a single-tenant app.
        package var tenants = 3
        package var posts = 200
        /// Posts with a cover (an uploaded file) per tenant.
        package var files = 3
        package var seed: UInt64 = 1
        package init() {}
    }

    package struct Summary: Encodable, Sendable {
        package var app: String
        package var tenants: [String]
        package var databases: Int
        package var files: Int
        package var fileBytes: Int64
        package var seconds: Double
    }

    package let options: Options
    package init(options: Options) { self.options = options }

    /// The name of demo tenant `i` (1-based): `tenant-001`, ….
    package static func tenantName(_ i: Int) -> String {
        let digits = String(i)
        return "tenant-" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    /// Makes the app in `directory`, which must be missing or empty.
    package func write(to directory: String, progress: (any ProgressObserver)? = nil) throws -> Summary {
        guard options.tenants >= 0, options.posts >= 0, options.files >= 0 else {
            throw VeloError("the tenants, posts and files of a demo app must be zero or more", kind: .usage)
        }
        let started = ContinuousClock.now
        let root = FileSystem.absolute(directory)
        if FileSystem.exists(root) {
            guard FileSystem.isDirectory(root) else { throw VeloError("\(root): is a file, not an app folder") }
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
            guard contents.isEmpty else { throw VeloError("\(root): not empty; choose an empty or new folder for the demo app") }
        }
        func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }
        try FileSystem.createDirectory(path("database/tenants"))
        try FileSystem.createDirectory(path("storage"))
        let single = options.tenants == 0
        let env = """
            APP_NAME=Veloquent
            APP_ENV=production
            # A demo key: secrets encrypted with it are demo data.
            APP_KEY=base64:ZGVtby1rZXktZm9yLXZlbG8tZGVtby1hcHBzLW9ubHkh
            APP_URL="http://localhost"

            DB_CONNECTION=sqlite
            # DB_DATABASE defaults to database/database.sqlite

            FILESYSTEM_DISK=local
            CACHE_STORE=database
            QUEUE_CONNECTION=database

            VELO_TENANCY_ENABLED=\(single ? "false" : "true")

            """
        try FileSystem.replaceAtomically(Array(env.utf8), at: path(".env"), mode: 0o640)
        var files = 0
        var fileBytes: Int64 = 0
        var names: [String] = []
        func tenantDatabase(_ file: String, seed: UInt64) throws {
            var demo = DemoDatabase.Options(posts: options.posts, seed: seed)
            demo.covers = options.files
            try DemoDatabase(options: demo).write(to: file)
        }
        if single {
            let file = path("database/database.sqlite")
            try tenantDatabase(file, seed: options.seed)
            let db = try Database(path: file, mode: .readWrite)
            try Self.createLandlordTables(db, withFrameworkTables: false)
            let written = try writeCovers(database: db, storage: path("storage/tenants/1/app"), seed: options.seed)
            files += written.files
            fileBytes += written.bytes
            names = [AppLayout.virtualTenant.name]
        } else {
            let landlord = try Database(path: path("database/database.sqlite"), mode: .create)
            try Self.createLandlordTables(landlord, withFrameworkTables: true)
            for i in 1...options.tenants {
                try Interruption.check()
                let name = Self.tenantName(i)
                let file = path("database/tenants/velo_tenant_\(name.replacingOccurrences(of: "-", with: "_")).sqlite")
                let seed = options.seed &+ UInt64(i)
                try tenantDatabase(file, seed: seed)
                let stamp = Timestamp.format(DemoDatabase.epoch + Int64(i) * 3600)
                try landlord.execute(
                    "insert into \"tenants\" (\"id\", \"name\", \"domain\", \"database\", \"created_at\", \"updated_at\") values (?, ?, ?, ?, ?, ?)",
                    [.integer(Int64(i)), .text(name), .text("\(name).localhost"), .text(file), .text(stamp), .text(stamp)])
                let db = try Database(path: file, mode: .readWrite)
                let written = try writeCovers(database: db, storage: path("storage/tenants/\(i)/app"), seed: seed)
                files += written.files
                fileBytes += written.bytes
                names.append(name)
                progress?.update(i, of: options.tenants, unit: "tenants")
            }
        }
        progress?.finish()
        let elapsed = ContinuousClock.now - started
        return Summary(
            app: root, tenants: names, databases: single ? 1 : options.tenants + 1, files: files, fileBytes: fileBytes,
            seconds: elapsed.inSeconds)
    }

    /// Writes every post cover the database refers to, with the size its metadata says, mode 0644 and the post's
    /// creation time as its modification time.
    func writeCovers(database db: Database, storage: String, seed: UInt64) throws -> (files: Int, bytes: Int64) {
        var covers: [(path: String, size: Int, time: String)] = []
        try db.prepare("SELECT \"cover\", \"created_at\" FROM \"_velo_posts\" WHERE \"cover\" IS NOT NULL ORDER BY rowid").forEachRow {
            row in
            guard let json = try? JSONParser.parse(Array(row.string(0).utf8)), let first = json.arrayValue?.first,
                let relative = first["path"]?.stringValue, let size = first["size"]?.intValue
            else { return }
            covers.append((relative, size, row.string(1)))
        }
        var random = SeededRandom(seed: SeededRandom.mix(seed ^ 0xF11E5))
        var bytes: Int64 = 0
        for cover in covers {
            let file = (storage as NSString).appendingPathComponent(cover.path)
            try FileSystem.createDirectory((file as NSString).deletingLastPathComponent)
            let header: [UInt8] =
                cover.path.hasSuffix(".png") ? [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] : [0xFF, 0xD8, 0xFF, 0xE0]
            var content = header
            content.reserveCapacity(cover.size)
            while content.count < cover.size {
                let word = random.next()
                for shift in stride(from: 0, to: 64, by: 8) where content.count < cover.size {
                    content.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
                }
            }
            guard FileManager.default.createFile(atPath: file, contents: Data(content), attributes: [.posixPermissions: 0o644]) else {
                throw VeloError("\(file): cannot write the demo file", kind: .io)
            }
            if let time = Timestamp.parseISO8601(cover.time.replacingOccurrences(of: " ", with: "T") + "Z") {
                var times = [timespec(tv_sec: time_t(time), tv_nsec: 0), timespec(tv_sec: time_t(time), tv_nsec: 0)]
                utimensat(AT_FDCWD, file, &times, 0)
            }
            bytes += Int64(content.count)
        }
        return (covers.count, bytes)
    }

    /// Veloquent's landlord migrations (`database/migrations/landlord/`) as Laravel's SQLite grammar writes them.
    static func createLandlordTables(_ db: Database, withFrameworkTables: Bool) throws {
        var migrations: [(String, [String])] = [
            (
                "0001_01_01_000001_create_landlord_tenants_table",
                [
                    #"create table "tenants" ("id" integer primary key autoincrement not null, "name" varchar not null, "domain" varchar not null, "database" varchar, "created_at" datetime, "updated_at" datetime)"#,
                    #"create unique index "tenants_domain_unique" on "tenants" ("domain")"#,
                    #"create unique index "tenants_database_unique" on "tenants" ("database")"#,
                ]
            ),
            (
                "0001_01_01_000002_create_realtime_subscriptions_table",
                [
                    #"create table "realtime_subscriptions" ("id" varchar not null, "tenant_id" integer not null, "collection_id" varchar not null, "auth_collection" varchar, "subscriber_id" varchar, "channel" varchar not null, "filter" text, "expired_at" datetime not null, "created_at" datetime, "updated_at" datetime, primary key ("id"))"#
                ]
            ),
        ]
        if withFrameworkTables {
            migrations.append(
                (
                    "0001_01_01_000003_create_cache_table",
                    [
                        #"create table "cache" ("key" varchar not null, "value" text not null, "expiration" integer not null, primary key ("key"))"#,
                        #"create table "cache_locks" ("key" varchar not null, "owner" varchar not null, "expiration" integer not null, primary key ("key"))"#,
                    ]
                ))
            migrations.append(
                (
                    "0001_01_01_000004_create_jobs_table",
                    [
                        #"create table "jobs" ("id" integer primary key autoincrement not null, "queue" varchar not null, "payload" text not null, "attempts" integer not null, "reserved_at" integer, "available_at" integer not null, "created_at" integer not null)"#,
                        #"create table "job_batches" ("id" varchar not null, "name" varchar not null, "total_jobs" integer not null, "pending_jobs" integer not null, "failed_jobs" integer not null, "failed_job_ids" text not null, "options" text, "cancelled_at" integer, "created_at" integer not null, "finished_at" integer, primary key ("id"))"#,
                        #"create table "failed_jobs" ("id" integer primary key autoincrement not null, "uuid" varchar not null, "connection" text not null, "queue" text not null, "payload" text not null, "exception" text not null, "failed_at" datetime not null default CURRENT_TIMESTAMP)"#,
                    ]
                ))
        }
        try db.transaction(.immediate) {
            // Laravel's own table, made by `migrate` before the first migration (the single tenant has it).
            try db.execute(
                #"create table if not exists "migrations" ("id" integer primary key autoincrement not null, "migration" varchar not null, "batch" integer not null)"#
            )
            for (name, statements) in migrations {
                for sql in statements { try db.execute(sql) }
                try db.execute("insert into \"migrations\" (\"migration\", \"batch\") values (?, ?)", [.text(name), .integer(1)])
            }
        }
    }
}
