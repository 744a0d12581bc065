import HTTPTypes
import Hummingbird

/// Veloquent's CORS (`config/cors.php` of its skeleton, answered by Laravel's `HandleCors`, fruitcake/php-cors):
/// any origin, method and header, no credentials, nothing exposed, `max_age` 0, on the API's paths. A preflight
/// (OPTIONS with `Access-Control-Request-Method`) is 204 with the allowance; every other answer carries
/// `Access-Control-Allow-Origin: *` (with `allowed_origins` `*` and no credentials, php-cors sends it whatever
/// the request's `Origin`).
struct CORSMiddleware: RouterMiddleware {
    typealias Context = VeloRequestContext
    /// The API's path prefix (`/api`): the paths CORS applies to.
    let prefix: String

    static let requestMethod = HTTPField.Name("Access-Control-Request-Method")!
    static let requestHeaders = HTTPField.Name("Access-Control-Request-Headers")!
    static let allowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    static let allowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    static let allowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    static let maxAge = HTTPField.Name("Access-Control-Max-Age")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let applies = prefix.isEmpty || prefix == "/" || request.uri.path.hasPrefix(prefix + "/")
        guard applies else { return try await next(request, context) }
        if request.method == .options, let method = request.headers[Self.requestMethod] {
            var response = Response(status: .noContent)
            response.headers[Self.allowOrigin] = "*"
            response.headers[Self.allowMethods] = method.uppercased()
            response.headers[Self.allowHeaders] = request.headers[Self.requestHeaders] ?? ""
            response.headers[Self.maxAge] = "0"
            response.headers[.vary] = "Access-Control-Request-Method, Access-Control-Request-Headers"
            return response
        }
        var response = try await next(request, context)
        response.headers[Self.allowOrigin] = "*"
        if request.method == .options { response.headers[.vary] = "Access-Control-Request-Method" }
        return response
    }
}
