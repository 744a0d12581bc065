import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Makes a realistic, deterministic Veloquent tenant database: Veloquent's exact DDL and metadata, a few
/// superusers, settings, tokens and templates, and `posts` with users, tags (through a pivot) and comments.
/// Memory stays flat whatever `posts` is: ids are derived from row numbers instead of being kept.
public struct DemoDatabase {
    public struct Options: Sendable {
        public var posts: Int = 1_000
        public var seed: UInt64 = 1
        /// `delete` (Laravel's default) or `wal`.
        public var journalMode: String = "delete"
        /// Replace an existing file.
        public var force = false
        /// The shape of the posts' and comments' text.
        public var text: DemoTextShape = .words
        /// The last Veloquent tenant migration the database has run (`Migrations.tenant`), to make a database of
        /// an older Veloquent (e.g. before `2026_06_11_202435_add_fingerprint_and_revocation_to_auth_tokens_table`:
        /// tokens without revocation or request metadata). nil: every migration velo knows.
        public var veloquentMigration: String?
        /// At most this many posts get a cover (a `file` field), of 2 to 32 KB instead of up to 900 KB: a demo
        /// app writes each cover as an uploaded file. nil: about 30% of posts, as metadata only.
        package var covers: Int?

        public init(
            posts: Int = 1_000, seed: UInt64 = 1, journalMode: String = "delete", force: Bool = false,
            text: DemoTextShape = .words
        ) {
            self.posts = posts
            self.seed = seed
            self.journalMode = journalMode
            self.force = force
            self.text = text
        }
    }

    /// What was made.
    public struct Summary: Codable, Sendable {
        public var path: String
        public var bytes: Int64
        public var seconds: Double
        public var rows: [String: Int]
    }

    public let options: Options

    public init(options: Options) { self.options = options }

    /// The first moment of demo history (2025-01-01 00:00:00 UTC); all times are fixed offsets from it.
    static let epoch: Int64 = 1_735_689_600
    /// Demo history spans 600 days.
    static let span: Int64 = 600 * 86_400

    /// Writes the database to `path` through a temporary file renamed into place, so an interrupted run
    /// never leaves a partial database under the final name. Refuses an existing file unless `force`.
    @discardableResult
    public func write(to path: String, progress: (any ProgressObserver)? = nil) throws -> Summary {
        guard options.posts >= 0 else { throw VeloError("the posts of a demo database must be zero or more", setting: "posts") }
        if let last = options.veloquentMigration, !Migrations.isKnown(last) || last < Migrations.oldestSupported {
            let choices = Migrations.tenant.filter { $0 >= Migrations.oldestSupported }
            throw VeloError(
                "'\(last)' is not a Veloquent tenant migration a demo database can stop at; choose one of: \(choices.joined(separator: ", "))",
                setting: "veloquent_migration")
        }
        guard ["delete", "wal"].contains(options.journalMode) else {
            throw VeloError("journal mode must be 'delete' or 'wal', not '\(options.journalMode)'")
        }
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw VeloError("\(path): is a directory") }
            if !options.force { throw VeloError("\(path): already exists", remedy: .replace) }
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !fm.fileExists(atPath: directory) {
            throw VeloError("\(directory): no such directory")
        }
        let started = ContinuousClock.now
        let temporary = path + ".tmp-\(getpid())"
        TemporaryFile.removeLitter(beside: path, marker: ".tmp-")  // what a killed demo left
        try? fm.removeItem(atPath: temporary)
        var rows: [String: Int] = [:]
        do {
            let db = try Database(path: temporary, mode: .create)
            try db.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -32000; PRAGMA foreign_keys = ON")
            var generator = Generator(db: db, options: options, progress: progress)
            try db.transaction(.immediate) { try generator.run() }
            rows = generator.rows
            try db.execute("PRAGMA journal_mode = \(options.journalMode.uppercased())")
        }
        for suffix in ["-wal", "-shm", "-journal"] { try? fm.removeItem(atPath: path + suffix) }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? fm.removeItem(atPath: temporary)
            throw VeloError("\(path): cannot move the new database into place: \(reason)")
        }
        progress?.finish()
        let bytes = ((try? fm.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let elapsed = ContinuousClock.now - started
        return Summary(
            path: path, bytes: bytes,
            seconds: elapsed.inSeconds, rows: rows)
    }
}

/// The row-by-row work of `DemoDatabase.write`.
struct Generator {
    let db: Database
    let options: DemoDatabase.Options
    let progress: (any ProgressObserver)?
    var random: SeededRandom
    var rows: [String: Int] = [:]
    var text: [UInt8] = []
    let userCount: Int
    let tagCount: Int

    init(db: Database, options: DemoDatabase.Options, progress: (any ProgressObserver)?) {
        self.db = db
        self.options = options
        self.progress = progress
        random = SeededRandom(seed: options.seed)
        userCount = max(20, options.posts / 20)
        tagCount = DemoText.tags.count
        text.reserveCapacity(4096)
    }

    // Id kinds, mixed into the hash so every table's ids differ.
    enum Kind: UInt64 { case collection = 1, superuser, user, tag, post, pivot, comment, token, oauth }

    /// A ULID for row `index` of a kind, created at `seconds`; the same seed always gives the same id.
    func ulid(_ kind: Kind, _ index: Int, at seconds: Int64, uppercase: Bool = false) -> String {
        let h1 = SeededRandom.mix(options.seed &* 0x1000_0000_01B3 ^ kind.rawValue << 56 ^ UInt64(index))
        let h2 = SeededRandom.mix(h1 ^ 0xA5A5_A5A5)
        return ULID.string(
            milliseconds: UInt64(seconds) * 1000 + h1 % 1000, high: UInt16(truncatingIfNeeded: h2), low: h1, uppercase: uppercase)
    }

    func userTime(_ i: Int) -> Int64 { DemoDatabase.epoch + 86_400 + Int64(i) * (DemoDatabase.span / 2) / Int64(max(userCount, 1)) }
    func postTime(_ i: Int) -> Int64 { DemoDatabase.epoch + 2 * 86_400 + Int64(i) * DemoDatabase.span / Int64(max(options.posts, 1)) }
    func userID(_ i: Int) -> String { ulid(.user, i, at: userTime(i)) }
    func tagID(_ i: Int) -> String { ulid(.tag, i, at: DemoDatabase.epoch + 3600 + Int64(i)) }
    static func ts(_ s: Int64) -> SQLiteValue { .text(Timestamp.format(s)) }

    mutating func count(_ table: String, _ n: Int = 1) { rows[table, default: 0] += n }

    mutating func run() throws {
        let setup = DemoDatabase.epoch
        let collectionsIDs = DemoCollections(
            ids: { ulid(.collection, $0, at: setup + Int64($0)) },
            superusersID: ulid(.collection, 0, at: setup, uppercase: true),
            createdAt: Timestamp.format(setup))
        // 1. Veloquent's migrations, in order, with the rows they insert.
        let collectionRows = collectionsIDs.rows
        var metadata: [String: CollectionMetadata] = [:]
        for row in collectionRows {
            let c = try CollectionMetadata(columns: zip(DemoCollections.columns, row).map { (name: $0, value: $1) }, path: db.path)
            metadata[c.name] = c
        }
        func insertCollection(_ name: String) throws {
            let row = collectionRows.first { $0[3] == .text(name) }!
            let placeholders = Array(repeating: "?", count: row.count).joined(separator: ", ")
            try db.execute("insert into \"collections\" (\(SQL.quoteList(DemoCollections.columns))) values (\(placeholders))", row)
            count("collections")
        }
        var batch = 0
        for migration in SystemSchema.migrations {
            if let last = options.veloquentMigration, !migration.name.isEmpty, migration.name > last { break }
            for sql in migration.statements { try db.execute(sql) }
            switch migration.name {
            case "0001_01_01_000001_create_superusers_table": try insertCollection("superusers")
            case "0001_01_01_000008_create_otp_tokens_table": try insertCollection("otps")
            case "0001_01_01_000011_create_oauth_accounts_table": try insertCollection("oauth")
            case "0001_01_01_000012_create_users_table":
                try createCollection(metadata["users"]!, among: metadata)
                try insertCollection("users")
            default: break
            }
            if !migration.name.isEmpty {
                batch = 1
                try db.execute(
                    "insert into \"migrations\" (\"migration\", \"batch\") values (?, ?)", [.text(migration.name), .integer(Int64(batch))])
                count("migrations")
            }
        }
        try insertSettings(at: setup)
        // 2. The operator's own collections, created later in the admin UI.
        for name in ["tags", "posts", "comments"] {
            try createCollection(metadata[name]!, among: metadata)
            try insertCollection(name)
        }
        let ids = collectionsIDs
        try insertSuperusers(at: setup)
        try insertUsers()
        try insertTags()
        try insertAuthRows(ids: ids)
        try insertPostsPivotsAndComments()
        try insertCache(ids: ids)
    }

    /// Runs the DDL Veloquent's create pipeline runs: the table, its pivot tables, then its indexes.
    func createCollection(_ c: CollectionMetadata, among all: [String: CollectionMetadata]) throws {
        try db.execute(CollectionDDL.createTable(c))
        for field in c.relationManyFields {
            let target = all.values.first { $0.id == field.targetCollectionID }?.name ?? c.name
            for sql in CollectionDDL.createPivot(name: PivotTable.name(c.name, target, field: field.name), pivotFields: []) {
                try db.execute(sql)
            }
        }
        for sql in CollectionDDL.createIndexes(c) { try db.execute(sql) }
    }

    mutating func insertSettings(at time: Int64) throws {
        let stmt = try db.prepare(
            "insert into \"settings\" (\"group\", \"name\", \"locked\", \"payload\", \"created_at\", \"updated_at\") values (?, ?, 0, ?, ?, ?)"
        )
        let settings: [(String, String, String)] = [
            ("general", "app_name", #""Acme Journal""#), ("general", "app_url", #""https:\/\/journal.acme.test""#),
            ("general", "locale", #""en""#), ("general", "contact_email", #""ops@acme.test""#),
            ("general", "lock_schema_change", "false"),
            ("storage", "storage_driver", #""local""#), ("storage", "s3_key", #""""#), ("storage", "s3_secret", #""""#),
            ("storage", "s3_region", #""""#), ("storage", "s3_bucket", #""""#), ("storage", "s3_endpoint", #""""#),
            ("email", "mail_driver", #""smtp""#), ("email", "mail_host", #""smtp.acme.test""#), ("email", "mail_port", "587"),
            ("email", "mail_encryption", #""tls""#), ("email", "mail_username", #""journal""#),
            ("email", "mail_password", #""eyJpdiI6IlVtY2xjRzl5ZEdWdVkzbz0iLCJ2YWx1ZSI6IjR4Y2Z2In0=""#),
            ("email", "mail_from_address", #""noreply@acme.test""#), ("email", "mail_from_name", #""Acme Journal""#),
            ("ai", "ai_provider", #""openai""#), ("ai", "ai_model", #""gpt-4o-mini""#), ("ai", "ai_api_key", "null"),
        ]
        for (group, name, payload) in settings {
            try stmt.run([.text(group), .text(name), .text(payload), Self.ts(time), Self.ts(time)])
            count("settings")
        }
    }

    mutating func insertSuperusers(at time: Int64) throws {
        let stmt = try db.prepare("insert into \"superusers\" values (?, ?, ?, ?, ?, ?)")
        for (i, (name, email)) in [("Ada Admin", "admin@acme.test"), ("Oscar Ops", "ops@acme.test"), ("Sam Support", "support@acme.test")]
            .enumerated()
        {
            let t = time + Int64(i) * 86_400 * 30
            try stmt.run([
                .text(ulid(.superuser, i, at: t, uppercase: true)), .text(name), .text(email),
                .text(DemoText.bcryptShaped(&random)), Self.ts(t), Self.ts(t),
            ])
            count("superusers")
        }
    }

    mutating func insertUsers() throws {
        let stmt = try db.prepare(
            "insert into \"_velo_users\" (\"id\", \"email\", \"password\", \"email_visibility\", \"verified\", \"name\", \"created_at\", \"updated_at\") values (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for i in 0..<userCount {
            let first = DemoText.firstNames[random.below(DemoText.firstNames.count)]
            let last = DemoText.lastNames[random.below(DemoText.lastNames.count)]
            let t = userTime(i)
            try stmt.run([
                .text(userID(i)), .text("\(first).\(last).\(i)@example.com"), .text(DemoText.bcryptShaped(&random)),
                .integer(random.chance(80) ? 1 : 0), .integer(random.chance(65) ? 1 : 0),
                random.chance(90) ? .text("\(first.capitalized) \(last.capitalized)") : .null,
                Self.ts(t), Self.ts(t + Int64(random.below(86_400 * 30))),
            ])
            count("_velo_users")
        }
    }

    mutating func insertTags() throws {
        let stmt = try db.prepare(
            "insert into \"_velo_tags\" (\"id\", \"name\", \"color\", \"created_at\", \"updated_at\") values (?, ?, ?, ?, ?)")
        for i in 0..<tagCount {
            let t = DemoDatabase.epoch + 3600 + Int64(i)
            try stmt.run([
                .text(tagID(i)), .text(DemoText.tags[i]),
                random.chance(70) ? .text(DemoText.colors[random.below(DemoText.colors.count)]) : .null,
                Self.ts(t), Self.ts(t),
            ])
            count("_velo_tags")
        }
    }

    mutating func insertAuthRows(ids: DemoCollections) throws {
        let now = DemoDatabase.epoch + DemoDatabase.span
        let templates = try db.prepare(
            "insert into \"email_templates\" (\"collection_id\", \"action\", \"content\", \"created_at\", \"updated_at\") values (?, ?, ?, ?, ?)"
        )
        for action in ["password_reset", "email_verification", "email_change", "login"] {
            let content =
                "<h1>{{ app_name }}</h1>\n<p>Hello {{ record.name }},</p>\n<p>Use this link to continue: <a href=\"{{ action_url }}\">\(action.replacingOccurrences(of: "_", with: " "))</a></p>"
            try templates.run([.text(ids.usersID), .text(action), .text(content), Self.ts(now - 86_400 * 90), Self.ts(now - 86_400 * 90)])
            count("email_templates")
        }
        // Before Veloquent 2.8's migration, tokens have no request metadata and no revocation.
        let metadata = options.veloquentMigration.map { $0 >= Migrations.authTokenMetadata } ?? true
        let tokenColumns =
            ["id", "collection_name", "collection_id", "record_id", "token_hash", "expires_at", "last_used_at", "created_at", "updated_at"]
            + (metadata ? ["ip_address", "user_agent", "fingerprint", "revoked_at"] : [])
        let tokens = try db.prepare(
            "insert into \"auth_tokens\" (\(SQL.quoteList(tokenColumns))) values (\(tokenColumns.map { _ in "?" }.joined(separator: ", ")))"
        )
        let agents = [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
            "veloquent-js/2.1 node/20.11",
        ]
        let tokenCount = min(userCount, 200)
        for i in 0..<tokenCount {
            let user = random.below(userCount)
            let created = now - Int64(random.below(86_400 * 20))
            let isSuperuser = i < 3
            let values: [SQLiteValue] = [
                .text(ulid(.token, i, at: created)),
                .text(isSuperuser ? "superusers" : "users"),
                .text(isSuperuser ? ids.superusersID : ids.usersID),
                .text(isSuperuser ? ulid(.superuser, i, at: DemoDatabase.epoch + Int64(i) * 86_400 * 30, uppercase: true) : userID(user)),
                .text(DemoText.hex(64, &random)), Self.ts(created + 2_592_000),
                random.chance(70) ? Self.ts(created + Int64(random.below(86_400))) : .null,
                Self.ts(created), Self.ts(created),
                .text("203.0.113.\(random.below(254) + 1)"), .text(agents[random.below(agents.count)]),
                .text(DemoText.hex(64, &random)), random.chance(10) ? Self.ts(created + 3600) : .null,
            ]
            try tokens.run(Array(values.prefix(tokenColumns.count)))
            count("auth_tokens")
        }
        let otps = try db.prepare(
            "insert into \"otp_tokens\" (\"collection_id\", \"record_id\", \"token_hash\", \"action\", \"expires_at\", \"used_at\", \"created_at\", \"updated_at\") values (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for i in 0..<min(userCount, 25) {
            let created = now - Int64(random.below(86_400 * 5))
            try otps.run([
                .text(ids.usersID), .text(userID(random.below(userCount))), .text(DemoText.hex(64, &random)),
                .text(["password_reset", "email_verification", "login"][i % 3]), Self.ts(created + 900),
                random.chance(50) ? Self.ts(created + 120) : .null, Self.ts(created), Self.ts(created),
            ])
            count("otp_tokens")
        }
        try db.execute(
            "insert into \"oauth_providers\" (\"collection_id\", \"provider\", \"enabled\", \"client_id\", \"client_secret\", \"redirect_uri\", \"scopes\", \"created_at\", \"updated_at\") values (?, 'github', 1, 'Iv1.8a61f9b3a7aba766', ?, 'https://journal.acme.test/api/collections/users/auth/oauth/github/callback', '[\"read:user\",\"user:email\"]', ?, ?)",
            [
                .text(ids.usersID),
                .text("eyJpdiI6IjVZR0VPSmF4bnVxT1RCSE1PdG1CdEE9PSIsInZhbHVlIjoiUnBQUkR4TGhUZz09IiwibWFjIjoiMGY3YTEifQ=="),
                Self.ts(now - 86_400 * 60), Self.ts(now - 86_400 * 60),
            ])
        count("oauth_providers")
        let accounts = try db.prepare("insert into \"oauth_accounts\" values (?, 'github', ?, ?, ?, ?, ?, ?)")
        for i in 0..<min(userCount, 30) {
            let user = i * max(1, userCount / 30)
            let created = userTime(user) + 60
            try accounts.run([
                .text(ulid(.oauth, i, at: created)), .text(String(1_000_000 + i * 7919)), .text(ids.usersID),
                .text(userID(user)), .text("user\(user)@users.noreply.github.com"), Self.ts(created), Self.ts(created),
            ])
            count("oauth_accounts")
        }
    }

    mutating func insertPostsPivotsAndComments() throws {
        let posts = try db.prepare(
            "insert into \"_velo_posts\" (\"id\", \"title\", \"body\", \"published\", \"views\", \"meta\", \"cover\", \"author\", \"created_at\", \"updated_at\") values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        let pivotName = PivotTable.name("posts", "tags", field: "tags")
        let pivot = try db.prepare(
            "insert into \(SQL.quote(pivotName)) (\"id\", \"source_id\", \"target_id\", \"created_at\") values (?, ?, ?, ?)")
        let comments = try db.prepare(
            "insert into \"_velo_comments\" (\"id\", \"post\", \"author\", \"body\", \"created_at\", \"updated_at\") values (?, ?, ?, ?, ?, ?)"
        )
        let languages = ["en", "en", "en", "de", "fr", "es"]
        var stamp = [UInt8](repeating: 0, count: 19)
        func bindTime(_ stmt: Statement, _ seconds: Int64, _ index: Int32) throws {
            Timestamp.write(seconds, into: &stamp)
            try stamp.withUnsafeBytes { try stmt.bindText($0, at: index) }
        }
        var pivotRows = 0, commentRows = 0, coversMade = 0
        for i in 0..<options.posts {
            let created = postTime(i)
            let postID = ulid(.post, i, at: created)
            posts.reset()
            try posts.bind(postID, at: 1)
            text.removeAll(keepingCapacity: true)
            DemoText.appendWords(3 + random.below(7), shape: options.text, to: &text, random: &random)
            try text.withUnsafeBytes { try posts.bindText($0, at: 2) }
            if random.chance(95) {
                text.removeAll(keepingCapacity: true)
                DemoText.appendParagraphs(sentences: 2 + random.below(4), shape: options.text, to: &text, random: &random)
                try text.withUnsafeBytes { try posts.bindText($0, at: 3) }
            } else {
                try posts.bindNull(at: 3)
            }
            let published = random.chance(70)
            try posts.bind(published ? 1 : 0, at: 4)
            if published { try posts.bind(Double(random.below(5000)), at: 5) } else { try posts.bindNull(at: 5) }
            if random.chance(60) {
                try posts.bind(
                    "{\"reading_minutes\":\(1 + random.below(12)),\"lang\":\"\(languages[random.below(languages.count)])\",\"featured\":\(random.chance(5))}",
                    at: 6)
            } else {
                try posts.bindNull(at: 6)
            }
            if options.covers.map({ coversMade < $0 }) ?? true, random.chance(30) {
                coversMade += 1
                let png = random.chance(40)
                let uuid =
                    DemoText.hex(8, &random) + "-" + DemoText.hex(4, &random) + "-4" + DemoText.hex(3, &random) + "-a"
                    + DemoText.hex(3, &random) + "-" + DemoText.hex(12, &random)
                let ext = png ? "png" : "jpg"
                try posts.bind(
                    "[{\"name\":\"cover.\(ext)\",\"path\":\"uploads\\/collections\\/posts\\/\(uuid).\(ext)\",\"size\":\(options.covers == nil ? 20_000 + random.below(900_000) : 2_000 + random.below(30_000)),\"extension\":\"\(ext)\",\"mime\":\"image\\/\(png ? "png" : "jpeg")\"}]",
                    at: 7)
            } else {
                try posts.bindNull(at: 7)
            }
            if random.chance(97) { try posts.bind(userID(random.below(userCount)), at: 8) } else { try posts.bindNull(at: 8) }
            try bindTime(posts, created, 9)
            try bindTime(posts, created + (random.chance(30) ? Int64(random.below(86_400 * 14)) : 0), 10)
            try posts.step()

            // Tags: 0 to 3 distinct ones, linked through the pivot table with uppercase ULIDs.
            let tagLinks = random.below(4)
            var firstTag = random.below(tagCount)
            for k in 0..<tagLinks {
                firstTag = (firstTag + 1 + random.below(5)) % tagCount
                pivot.reset()
                try pivot.bind(ulid(.pivot, i * 4 + k, at: created, uppercase: true), at: 1)
                try pivot.bind(postID, at: 2)
                try pivot.bind(tagID(firstTag), at: 3)
                try bindTime(pivot, created, 4)
                do { try pivot.step(); pivotRows += 1 } catch let error as SQLiteError where error.code == 19 {
                    continue  // the same tag drawn twice for one post: Veloquent's unique index forbids it too
                }
            }

            // Comments: about one for every two posts, written after the post.
            let commentCount = random.chance(35) ? 1 + random.below(2) : 0
            for k in 0..<commentCount {
                let at = created + 600 + Int64(random.below(86_400 * 3))
                comments.reset()
                try comments.bind(ulid(.comment, i * 4 + k, at: at), at: 1)
                try comments.bind(postID, at: 2)
                if random.chance(90) { try comments.bind(userID(random.below(userCount)), at: 3) } else { try comments.bindNull(at: 3) }
                text.removeAll(keepingCapacity: true)
                DemoText.appendParagraphs(sentences: 1 + random.below(3), shape: options.text, to: &text, random: &random)
                try text.withUnsafeBytes { try comments.bindText($0, at: 4) }
                try bindTime(comments, at, 5)
                try bindTime(comments, at, 6)
                try comments.step()
                commentRows += 1
            }
            if i & 1023 == 0 { try Interruption.check(); progress?.update(i, unit: "posts") }
        }
        count("_velo_posts", options.posts)
        count(pivotName, pivotRows)
        count("_velo_comments", commentRows)
    }

    mutating func insertCache(ids: DemoCollections) throws {
        // Laravel's database cache as Veloquent leaves it: collection metadata cached forever (expiration far away).
        let stmt = try db.prepare("insert into \"cache\" (\"key\", \"value\", \"expiration\") values (?, ?, ?)")
        for (name, id) in [("users", ids.usersID), ("posts", ids.postsID), ("tags", ids.tagsID)] {
            try stmt.run([.text("laravel_cache_velo:collection:name:\(name)"), .text("s:26:\"\(id)\";"), .integer(2_147_483_647)])
            try stmt.run([.text("laravel_cache_velo:collection:id:\(id)"), .text("s:\(name.count):\"\(name)\";"), .integer(2_147_483_647)])
            count("cache", 2)
        }
    }
}
