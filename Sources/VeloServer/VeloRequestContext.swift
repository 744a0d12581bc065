import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The context of one request: the client's address (for the login rate limit and the access log) and, once the
/// tenant and the bearer token were checked, the tenant database and the superuser the request acts for.
package struct VeloRequestContext: RequestContext, RemoteAddressRequestContext {
    package var coreContext: CoreRequestContextStorage
    package let remoteAddress: SocketAddress?
    /// Set by `TenantMiddleware`.
    package var tenant: TenantTarget?
    /// Set by `SuperuserMiddleware`: the record of the request's valid token, the token, and the record again
    /// when it is a superuser.
    package var authenticated: AuthenticatedRecord?
    package var token: String?
    package var superuser: AuthenticatedRecord?

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The tenant; every route behind `TenantMiddleware` has one.
    func requireTenant() throws -> TenantTarget {
        guard let tenant else { throw APIError(.notFound, "Tenant not found") }
        return tenant
    }

    /// The client's address as text, without the port.
    var clientAddress: String {
        remoteAddress?.ipAddress ?? "unknown"
    }

    /// The client's address behind a proxy on this machine: the last `X-Forwarded-For` entry when the TCP peer
    /// is a loopback address (the proxy the docs put in front), as Veloquent's `trustProxies` reads it; the
    /// peer itself otherwise, so that a client connecting directly cannot choose its own address.
    func clientAddress(of request: Request) -> String {
        let peer = clientAddress
        guard peer.hasPrefix("127.") || peer == "::1",
            let forwarded = request.headers[values: HTTPField.Name("X-Forwarded-For")!].last?.split(separator: ",").last
        else { return peer }
        let address = forwarded.trimmingCharacters(in: .whitespaces)
        return address.isEmpty ? peer : address
    }
}
