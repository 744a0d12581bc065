import Hummingbird
import Logging
import VeloKit

/// One structured line per request on the server's logger (stderr): method, path, status, duration, client and
/// the superuser it acted for. Query strings are left out: a `token` may be in them.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = VeloRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        let ms = elapsed.inSeconds * 1000
        logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
                "ms": "\(String(format: "%.1f", ms))",
                "client": "\(context.clientAddress)",
                "host": "\(request.head.authority ?? "")",
            ])
        return response
    }
}
