import Hummingbird

/// Puts the request's tenant database in its context (Veloquent's `needs.tenant`): the `--db` database, or the
/// landlord's tenant for the Host; an unknown host is 404 "Tenant not found" before anything else runs.
struct TenantMiddleware: RouterMiddleware {
    typealias Context = VeloRequestContext
    let state: ServerState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let host = request.head.authority
        let resolver = state.resolver
        context.tenant = try await BlockingWork.run { try resolver.resolve(host: host) }
        return try await next(request, context)
    }
}
