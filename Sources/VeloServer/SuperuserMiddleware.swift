import Foundation
import Hummingbird
import VeloKit

/// Veloquent's `token.auth` + `auth:api` + `superuser`: the bearer token (or a `token` query parameter,
/// Veloquent's fallback) must be a valid token of the tenant's `auth_tokens`; 401 "Unauthenticated." (Laravel's
/// auth:api, which runs before Veloquent's superuser check) without one, 403 "Forbidden" when it belongs to a
/// record of another auth collection. With `requireSuperuser` false (the auth routes, which are `auth:api`
/// only), any valid token passes and the route checks its collection.
struct SuperuserMiddleware: RouterMiddleware {
    typealias Context = VeloRequestContext
    let state: ServerState
    var requireSuperuser = true

    static func token(from request: Request) -> String? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let token = parts[1].trimmingCharacters(in: .whitespaces)
                if !token.isEmpty { return token }
            }
        }
        if let query = request.uri.queryParameters.get("token"), !query.isEmpty { return query }
        return nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = Self.token(from: request) else { throw APIError(.unauthorized, "Unauthenticated.") }
        let tenant = try context.requireTenant()
        let configuration = state.configuration
        let record: AuthenticatedRecord? = try await BlockingWork.run {
            let db: Database
            do {
                db = try Database(path: tenant.databasePath, mode: .readWrite, busyTimeout: configuration.busyTimeout)
            } catch {
                throw APIError.from(error)
            }
            // No auth_tokens table: no valid token. Any other failure (a lock Veloquent holds past the busy
            // timeout, an I/O error) is answered as such, never as 401, which would sign the admin UI out.
            let tokens: AuthTokens
            do {
                tokens = try AuthTokens(database: db, lifetime: configuration.tokenLifetime, maxActive: configuration.maxActiveTokens)
            } catch is APIError { return nil }
            do { return try tokens.authenticate(token) } catch let error as SQLiteError where error.isBusy {
                var busy = APIError(.serviceUnavailable, "The database is busy; try again.", hasErrorsKey: true)
                busy.headers[.retryAfter] = "1"
                throw busy
            } catch { throw APIError.from(error) }
        }
        guard let record else { throw APIError(.unauthorized, "Unauthenticated.") }
        guard record.isSuperuser || !requireSuperuser else { throw APIError(.forbidden, "Forbidden") }
        var context = context
        context.authenticated = record
        context.token = token
        if record.isSuperuser { context.superuser = record }
        return try await next(request, context)
    }
}
