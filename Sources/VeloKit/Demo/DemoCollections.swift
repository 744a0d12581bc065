import VeloFormat
import VeloRepository
import VeloStorage

/// The collections of a demo tenant: Veloquent's system collections plus `users`, `tags`, `posts` and
/// `comments`, as `collections` rows in Veloquent's stored shape (field key order, PHP's JSON escaping).
struct DemoCollections {
    let superusersID: String
    let otpsID: String
    let oauthID: String
    let usersID: String
    let tagsID: String
    let postsID: String
    let commentsID: String
    let createdAt: String

    init(ids: (Int) -> String, superusersID: String, createdAt: String) {
        self.superusersID = superusersID
        otpsID = ids(1)
        oauthID = ids(2)
        usersID = ids(3)
        tagsID = ids(4)
        postsID = ids(5)
        commentsID = ids(6)
        self.createdAt = createdAt
    }

    /// A field object with Veloquent's key order: id, name, type, order, nullable, unique, type keys, default.
    static func field(
        _ id: String, _ name: String, _ type: String, _ order: Int, nullable: Bool, unique: Bool = false,
        keys: [(String, JSONValue)]? = nil, default value: JSONValue? = .null
    ) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("id", .string(id)), ("name", .string(name)), ("type", .string(type)), ("order", .int(order)),
            ("nullable", .bool(nullable)), ("unique", .bool(unique)),
        ]
        let typeKeys: [(String, JSONValue)]
        switch type {
        case "text", "email", "url": typeKeys = keys ?? [("min", .null), ("max", .null)]
        default: typeKeys = keys ?? []
        }
        pairs += typeKeys
        if let value { pairs.append(("default", value)) }
        return .object(pairs)
    }

    static func standardFields(first: String, last: (String, String), order: Int) -> (JSONValue, JSONValue) {
        (
            field(last.0, "created_at", "datetime", order, nullable: false),
            field(last.1, "updated_at", "datetime", order + 1, nullable: false)
        )
    }

    static let baseRules: JSONValue = .object([
        ("list", .string("")), ("view", .string("")), ("create", .string("@request.auth.id != \"\"")),
        ("update", .string("author = @request.auth.id")), ("delete", .string("author = @request.auth.id")), ("manage", .null),
    ])

    /// (values of one `collections` row in column order) for every collection, system ones first.
    var rows: [[SQLiteValue]] {
        func json(_ v: JSONValue) -> SQLiteValue { .text(JSONWriter.string(v, escapesSlashes: true)) }
        func row(
            _ id: String, _ type: String, _ system: Bool, _ name: String, _ table: String, _ description: String?,
            _ fields: [JSONValue], _ rules: JSONValue?, _ indexes: JSONValue?, _ options: JSONValue?
        ) -> [SQLiteValue] {
            [
                .text(id), .text(type), .integer(system ? 1 : 0), .text(name), .text(table),
                description.map { .text($0) } ?? .null, json(.array(fields)), rules.map(json) ?? .null,
                indexes.map(json) ?? .null, options.map(json) ?? .null, .text(createdAt), .text(createdAt), .text(createdAt),
            ]
        }
        func index(_ columns: [String], _ type: String) -> JSONValue {
            .object([("columns", .array(columns.map { .string($0) })), ("type", .string(type))])
        }
        // Rows written by raw migration inserts keep their irregular shapes (no order, `length`, null ids).
        func raw(_ id: String, _ name: String, _ type: String, unique: Bool = false, length: Int? = 255) -> JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("id", .string(id)), ("name", .string(name)), ("type", .string(type)),
                ("nullable", .bool(false)), ("unique", .bool(unique)),
            ]
            if let length { pairs.append(("length", .int(length))) }
            return .object(pairs)
        }
        func legacy(_ name: String, _ type: String) -> JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("id", .null), ("name", .string(name)), ("type", .string(type)), ("order", .int(0)),
                ("nullable", .bool(false)), ("unique", .bool(false)),
            ]
            if type != "datetime" { pairs += [("min", .null), ("max", .null)] }
            pairs.append(("default", .null))
            return .object(pairs)
        }
        let denyAll: JSONValue = .object(["list", "view", "create", "update", "delete"].map { ($0, .null) })
        let authOptions: JSONValue = .object([
            (
                "auth_methods",
                .object([
                    ("standard", .object([("enabled", .bool(true)), ("identity_fields", .array([.string("email")]))])),
                    ("oauth", .object([("enabled", .bool(true))])),
                ])
            )
        ])
        let userRules: JSONValue = .object([
            ("list", .string("id = @request.auth.id")), ("view", .string("id = @request.auth.id")), ("create", .string("")),
            ("update", .string("id = @request.auth.id")), ("delete", .string("id = @request.auth.id")), ("manage", .null),
        ])
        let superusers = row(
            superusersID, "auth", true, "superusers", "superusers", "Superusers collection",
            [
                raw("d62bfc5d", "id", "text", unique: true, length: 26), raw("8d578510", "name", "text"),
                raw("5ed904f4", "email", "email", unique: true), raw("e019db6a", "password", "text"),
                raw("239f235f", "created_at", "datetime", length: nil), raw("0d22d3af", "updated_at", "datetime", length: nil),
            ], denyAll, nil, nil)
        let otps = row(
            otpsID, "base", true, "otps", "otp_tokens", nil,
            [
                ("collection_id", "text"), ("record_id", "text"), ("token_hash", "text"), ("action", "text"),
                ("expires_at", "datetime"), ("used_at", "datetime"),
            ].map { legacy($0.0, $0.1) }, nil, nil, nil)
        let oauth = row(
            oauthID, "base", true, "oauth", "oauth_accounts", nil,
            [
                ("id", "text"), ("provider", "text"), ("provider_user_id", "text"), ("collection_id", "text"),
                ("record_id", "text"), ("email", "email"), ("created_at", "datetime"), ("updated_at", "datetime"),
            ]
            .map { legacy($0.0, $0.1) }, nil, nil, nil)
        let users = row(
            usersID, "auth", false, "users", "_velo_users", "Default auth users collection",
            [
                Self.field("cc2612d7", "id", "text", 0, nullable: false, unique: true),
                Self.field("8ef02886", "email", "email", 1, nullable: false, unique: true),
                Self.field("4e96b4fc", "password", "text", 2, nullable: false),
                Self.field("a431864c", "email_visibility", "boolean", 3, nullable: true, default: .bool(true)),
                Self.field("153c5215", "verified", "boolean", 4, nullable: true, default: .bool(false)),
                Self.field("ebefa8f6", "name", "text", 5, nullable: true),
                Self.field("46ffe50a", "created_at", "datetime", 6, nullable: false),
                Self.field("78727341", "updated_at", "datetime", 7, nullable: false),
            ], userRules, .array([index(["email"], "unique")]), authOptions)
        let tags = row(
            tagsID, "base", false, "tags", "_velo_tags", "Topics posts are filed under",
            [
                Self.field("0b1c2d3e", "id", "text", 0, nullable: false, unique: true),
                Self.field("1c2d3e4f", "name", "text", 1, nullable: false, unique: true, keys: [("min", .int(1)), ("max", .int(40))]),
                Self.field(
                    "2d3e4f50", "color", "select", 2, nullable: true,
                    keys: [("options", .array(DemoText.colors.map { .string($0) }))]),
                Self.field("3e4f5061", "created_at", "datetime", 3, nullable: false),
                Self.field("4f506172", "updated_at", "datetime", 4, nullable: false),
            ],
            .object([
                ("list", .string("")), ("view", .string("")), ("create", .null), ("update", .null), ("delete", .null), ("manage", .null),
            ]),
            .array([index(["name"], "unique")]), .array([]))
        let posts = row(
            postsID, "base", false, "posts", "_velo_posts", nil,
            [
                Self.field("1a2b3c4d", "id", "text", 0, nullable: false, unique: true),
                Self.field("2b3c4d5e", "title", "text", 1, nullable: false, keys: [("min", .int(1)), ("max", .int(200))]),
                Self.field("7a8b9c0d", "body", "longtext", 2, nullable: true),
                Self.field("3c4d5e6f", "published", "boolean", 3, nullable: false, default: .bool(false)),
                Self.field(
                    "8b9c0d1e", "views", "number", 4, nullable: true,
                    keys: [("min", .int(0)), ("max", .null), ("allow_decimals", .bool(false))]),
                Self.field("9c0d1e2f", "meta", "json", 5, nullable: true),
                Self.field(
                    "0d1e2f30", "cover", "file", 6, nullable: true,
                    keys: [
                        ("multiple", .bool(false)), ("min", .null), ("max", .null), ("max_size_kb", .int(5120)),
                        ("allowed_mime_types", .array([.string("image/jpeg"), .string("image/png")])), ("protected", .bool(false)),
                    ], default: nil),
                Self.field(
                    "4d5e6f70", "author", "relation", 7, nullable: true,
                    keys: [("target_collection_id", .string(usersID)), ("cascade_on_delete", .bool(false))]),
                Self.field(
                    "1e2f3041", "tags", "relation_many", 8, nullable: true,
                    keys: [("target_collection_id", .string(tagsID)), ("pivot_fields", .array([]))]),
                Self.field("5e6f7081", "created_at", "datetime", 9, nullable: false),
                Self.field("6f708192", "updated_at", "datetime", 10, nullable: false),
            ], Self.baseRules, .array([index(["author"], "index"), index(["published", "created_at"], "index")]), .array([]))
        let comments = row(
            commentsID, "base", false, "comments", "_velo_comments", nil,
            [
                Self.field("5a6b7c8d", "id", "text", 0, nullable: false, unique: true),
                Self.field(
                    "6b7c8d9e", "post", "relation", 1, nullable: false,
                    keys: [("target_collection_id", .string(postsID)), ("cascade_on_delete", .bool(true))]),
                Self.field(
                    "7c8d9eaf", "author", "relation", 2, nullable: true,
                    keys: [("target_collection_id", .string(usersID)), ("cascade_on_delete", .bool(false))]),
                Self.field("8d9eafb0", "body", "longtext", 3, nullable: false),
                Self.field("9eafb0c1", "created_at", "datetime", 4, nullable: false),
                Self.field("afb0c1d2", "updated_at", "datetime", 5, nullable: false),
            ], Self.baseRules, .array([index(["post"], "index")]), .array([]))
        return [superusers, otps, oauth, users, tags, posts, comments]
    }

    /// The column names of `collections`, in table order.
    static let columns = [
        "id", "type", "is_system", "name", "table_name", "description", "fields", "api_rules",
        "indexes", "options", "schema_updated_at", "created_at", "updated_at",
    ]
}
