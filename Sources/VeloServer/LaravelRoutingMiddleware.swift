import HTTPTypes
import Hummingbird

/// Laravel's answers where velo's router has no route (HEAD of a GET route is the router's own option): a path
/// velo serves with another method is 405 "The POST method is not supported for route api/…. Supported methods: GET, HEAD." with
/// `Allow` (OPTIONS: 200 with `Allow`); any other path is Laravel's 404 "The route api/… could not be found.", followed by which routes
/// velo serves, so that a proxy sending all of `/api/` to velo fails clearly for Veloquent's other routes.
struct LaravelRoutingMiddleware: RouterMiddleware {
    typealias Context = VeloRequestContext
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            // Laravel names the path without its leading and trailing slashes.
            let path = String(request.uri.path.drop { $0 == "/" }.reversed().drop { $0 == "/" }.reversed())
            let methods = routes.methods(for: request.uri.path)
            if request.method == .options && !methods.isEmpty {
                // Laravel answers OPTIONS on a known path itself: 200, no body, the methods in `Allow`.
                var response = Response(status: .ok)
                response.headers[.allow] = methods.joined(separator: ",")
                return response
            }
            if !methods.isEmpty && !methods.contains(request.method.rawValue) {
                var refusal = APIError(
                    .methodNotAllowed,
                    "The \(request.method.rawValue) method is not supported for route \(path). Supported methods: \(methods.joined(separator: ", "))."
                )
                refusal.headers[.allow] = methods.joined(separator: ", ")
                throw refusal
            }
            throw APIError(
                .notFound,
                "The route \(path) could not be found. velo serve answers the superuser's auth, schema, schema-transfer and backup routes (listed by openapi.json); send Veloquent's other routes to Veloquent."
            )
        }
    }
}
