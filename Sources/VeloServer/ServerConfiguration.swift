import VeloKit

/// What `velo serve` serves and how: one tenant database or a landlord's tenants, where snapshots go, and the
/// limits of the API. Defaults are Veloquent's (30-day tokens, 3 active tokens per superuser, prefix `api`).
package struct ServerConfiguration: Sendable {
    /// Where the tenant database of a request comes from.
    package enum Databases: Sendable, Equatable {
        /// `--db`: every request works on this one database.
        case single(String)
        /// `--landlord`: the request's Host picks a row of this database's `tenants` table, as Veloquent does.
        case landlord(String)
    }

    package var databases: Databases
    package var host = "127.0.0.1"
    /// 0 picks a free port (tests).
    package var port = 8090
    /// With `.landlord`, the domains of the tenants whose superusers operate the repository (`--operator`): they
    /// see every source of the repository, as the served database's superusers do with `.single`, and may prune it.
    /// The superusers of every other tenant see and touch only their own database's snapshots. Empty by default:
    /// no tenant sees another unless the server's operator says so.
    package var operators: Set<String> = []
    /// The snapshot repository (`--repo`); routes that change a database refuse to run without one.
    package var repository: String?
    /// The password of an encrypted repository (read once, remembered).
    package var password: PasswordSource?
    /// The Veloquent app served (`--config`'s app): a restore of a tenant's snapshot then also restores its
    /// uploaded files into the app's storage (`TenantRestore.run`).
    package var app: String?
    /// A newest snapshot older than this is stale (`--config`'s `max_age`; the status route's default).
    package var maxAge = Interval(seconds: 26 * 3_600)
    /// `--config`'s retention policy, as written there: what the backups page shows and dry-runs first.
    package var retention: JSONValue?
    /// Veloquent's `velo.api_prefix`.
    package var apiPrefix = "api"
    /// The largest request body accepted (a transfer import); larger ones are 413.
    package var maxBodyBytes: Int64 = 1 << 30
    /// The largest JSON body of the other routes.
    package var maxJSONBytes = 1 << 20
    /// Seconds a token lives (`VELO_AUTH_TOKEN_EXPIRATION`).
    package var tokenLifetime: Int64 = 2_592_000
    /// Active tokens kept per superuser (`VELO_AUTH_TOKEN_MAX_ACTIVE`); older ones are revoked.
    package var maxActiveTokens = 3
    /// Failed logins allowed per client address within `loginWindow` seconds before 429.
    package var loginBurst = 5
    package var loginWindow: Int64 = 60
    /// How long to wait for Veloquent's lock on a database.
    package var busyTimeout: Duration = .seconds(5)

    /// Called by every destructive operation once it holds its database and repository, before it starts (tests
    /// hold one there to send a second request while it runs).
    package var afterClaim: (@Sendable (String) async -> Void)?

    package init(databases: Databases) { self.databases = databases }

    /// Sets `operators` as a request's Host is compared with them: lowercased, without a port.
    package mutating func setOperators(_ domains: [String]) { operators = Set(domains.map(TenantResolver.hostName)) }

    /// The `operators` no tenant of the landlord has (yet): a mistyped domain would otherwise grant nothing
    /// without a word.
    package func operatorsWithoutTenant() throws -> [String] {
        guard case .landlord(let path) = databases, !operators.isEmpty else { return [] }
        let landlord = try Database(path: path, mode: .readOnly, busyTimeout: busyTimeout)
        let domains = try Landlord.tenants(in: landlord, schema: try SQLiteSchema.read(from: landlord)).compactMap {
            $0.domain?.lowercased()
        }
        return operators.subtracting(domains).sorted()
    }

    /// `prefix` with its slashes trimmed, as a path (`/api`), or `` for an empty prefix.
    var pathPrefix: String {
        let trimmed = apiPrefix.split(separator: "/").joined(separator: "/")
        return trimmed.isEmpty ? "" : "/" + trimmed
    }
}
