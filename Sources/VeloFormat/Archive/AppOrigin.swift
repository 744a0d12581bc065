/// Which app and tenant a snapshot was taken from by `velo backup --app`: recorded in the header's `source.app`
/// and the catalog entry's `source.app`, so snapshots can be grouped and selected by tenant whatever the
/// database file is called (and after the app moved).
public struct AppOrigin: Equatable, Sendable, Encodable {
    /// The app folder, absolute.
    public var path: String
    /// The tenant's id and name in the landlord (1 and "Default Tenant" in single-tenant mode); nil for the landlord.
    public var tenantID: Int64?
    public var tenantName: String?
    public var tenantDomain: String?

    public init(path: String, tenantID: Int64? = nil, tenantName: String? = nil, tenantDomain: String? = nil) {
        self.path = path
        self.tenantID = tenantID
        self.tenantName = tenantName
        self.tenantDomain = tenantDomain
    }

    /// The tag a snapshot of this source carries: `tenant:<name>`, or `landlord`.
    package var tag: String {
        guard let tenantID else { return "landlord" }
        return "tenant:\(tenantName ?? String(tenantID))"
    }

    package var json: JSONValue {
        var pairs: [(String, JSONValue)] = [("path", .string(path))]
        if let tenantID {
            pairs.append(
                (
                    "tenant",
                    .object([
                        ("id", .int(tenantID)), ("name", tenantName.map { .string($0) } ?? .null),
                        ("domain", tenantDomain.map { .string($0) } ?? .null),
                    ])
                ))
        }
        return .object(pairs)
    }

    /// Reads `source.app`; nil when absent or not an object (a snapshot not taken with `--app`).
    package init?(json: JSONValue?) {
        guard let json, case .object = json, let path = json["path"]?.stringValue else { return nil }
        self.path = path
        if let tenant = json["tenant"], case .object = tenant {
            tenantID = tenant["id"]?.intValue.map(Int64.init)
            tenantName = tenant["name"]?.stringValue
            tenantDomain = tenant["domain"]?.stringValue
        }
    }
}
