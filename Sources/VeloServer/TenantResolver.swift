import Foundation
import VeloKit

/// The tenant database a request works on.
package struct TenantTarget: Sendable, Equatable {
    /// The tenant database file.
    package var databasePath: String
    /// The tenant's domain in landlord mode; nil with `--db`.
    package var domain: String?
}

/// Picks the tenant database: the one `--db` names, or, with `--landlord`, the row of `tenants` whose `domain` is
/// the request's Host (port left out), as Veloquent's `CachedDomainTenantFinder` does. An unknown host is
/// Veloquent's 404 "Tenant not found". The landlord is read at each request, so a new tenant needs no restart.
struct TenantResolver: Sendable {
    let databases: ServerConfiguration.Databases
    let busyTimeout: Duration

    func resolve(host: String?) throws -> TenantTarget {
        switch databases {
        case .single(let path):
            return TenantTarget(databasePath: FileSystem.absolute(path), domain: nil)
        case .landlord(let path):
            guard let host = host.map(Self.hostName), !host.isEmpty else { throw APIError(.notFound, "Tenant not found") }
            let landlord = try Database(path: path, mode: .readOnly, busyTimeout: busyTimeout)
            let tenants = try Landlord.tenants(in: landlord, schema: try SQLiteSchema.read(from: landlord))
            guard let tenant = tenants.first(where: { $0.domain?.lowercased() == host }) else {
                throw APIError(.notFound, "Tenant not found")
            }
            // Single-tenant mode keeps everything in the landlord's own file (`database` is null).
            guard let database = tenant.database, !database.isEmpty else {
                return TenantTarget(databasePath: FileSystem.absolute(path), domain: host)
            }
            return TenantTarget(databasePath: database, domain: host)
        }
    }

    /// `Example.com:8090` as `example.com`; `[::1]:8090` as `::1`.
    static func hostName(_ authority: String) -> String {
        var text = authority.lowercased()
        if text.hasPrefix("[") {
            if let end = text.firstIndex(of: "]") { text = String(text[text.index(after: text.startIndex)..<end]) }
            return text
        }
        if let colon = text.lastIndex(of: ":"), text.filter({ $0 == ":" }).count == 1 { text = String(text[..<colon]) }
        return text
    }
}
