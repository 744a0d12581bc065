import Foundation
import Logging
import VeloKit

/// What every route shares: the configuration, the tenant resolver, the login rate limit and the gate that keeps
/// two destructive operations off the same database or repository.
final class ServerState: Sendable {
    let configuration: ServerConfiguration
    let resolver: TenantResolver
    let limiter: LoginRateLimiter
    let gate: OperationGate
    let streams = ActiveStreams()
    let shutdown: ShutdownCoordinator
    let logger: Logger

    init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        resolver = TenantResolver(databases: configuration.databases, busyTimeout: configuration.busyTimeout)
        gate = OperationGate(afterClaim: configuration.afterClaim)
        limiter = LoginRateLimiter(burst: configuration.loginBurst, window: configuration.loginWindow)
        self.logger = logger
        shutdown = ShutdownCoordinator(streams: streams)
    }

    /// The repository, created if needed; a 422 naming `--repo` when the server has none, so nothing that needs
    /// a snapshot first runs without one.
    /// Opened on the blocking pool: a bucket's is a request.
    func repository(for what: String) async throws -> Repository {
        guard let path = configuration.repository else {
            throw APIError.service(
                "\(what) needs a snapshot repository first, and this server has none (its operator names one when starting it); nothing was changed"
            )
        }
        let access = RepositoryAccess(password: configuration.password)
        return try await BlockingWork.run { try Repository.open(path, create: true, access: access) }
    }

    /// The gate key of the repository.
    var repositoryKey: String { "repo:" + FileSystem.absolute(configuration.repository ?? "-") }

    /// The gate key of a tenant database.
    func databaseKey(_ tenant: TenantTarget) -> String { "db:" + tenant.databasePath }

    /// Whether the tenant's superusers see every source of the repository: with `--db` (the repository is the
    /// served database's operator's), and with `--landlord` for an operator tenant only (`operators`).
    func seesEverySource(_ tenant: TenantTarget) -> Bool {
        guard case .landlord = configuration.databases else { return true }
        return tenant.domain.map { configuration.operators.contains($0.lowercased()) } ?? false
    }

    /// Whether a catalog entry belongs to the tenant: every snapshot when it sees every source, else only its own
    /// database's (with `--landlord`, tenants share the repository, not their snapshots).
    func owns(_ entry: CatalogEntry, tenant: TenantTarget) -> Bool {
        seesEverySource(tenant) || FileSystem.absolute(entry.sourcePath) == FileSystem.absolute(tenant.databasePath)
    }
}
