import Hummingbird
import VeloKit

/// Turns every error a route throws into Veloquent's error body: `APIError`s as they are, VeloKit failures as
/// 422 service errors (409 for a lock), Hummingbird's own errors (an unknown route, a body too large) with their
/// status and a `message`. Nothing reaches the client as an empty 500.
struct ErrorEnvelopeMiddleware: RouterMiddleware {
    typealias Context = VeloRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return Envelope.failure(error)
        } catch let error as HTTPError {
            let message: String
            switch error.status {
            case .notFound: message = "Not Found"
            case .contentTooLarge: message = "Content Too Large"
            case .methodNotAllowed: message = "Method Not Allowed"
            default: message = error.body ?? error.status.reasonPhrase
            }
            return Envelope.failure(APIError(error.status, message))
        } catch let error as VeloFailure {
            return Envelope.failure(.from(error))
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)"])
            return Envelope.failure(APIError(.internalServerError, "Server Error"))
        }
    }
}
