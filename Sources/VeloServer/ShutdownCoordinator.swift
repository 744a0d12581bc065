import Dispatch
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// Graceful shutdown that finishes what has begun: on SIGTERM or SIGINT the server answers new requests with 503,
/// waits until the requests it is handling have returned and the response bodies they started (exports, archive
/// downloads) have been written to the end, and only then stops the HTTP server. Hummingbird's own signal
/// handling stops the server at once, which cut a body still streaming.
final class ShutdownCoordinator: Sendable {
    private let inFlight = Mutex(0)
    private let stopping = Mutex(false)
    private let streams: ActiveStreams

    init(streams: ActiveStreams) { self.streams = streams }

    /// Whether a signal arrived: new requests are refused from then on.
    var isStopping: Bool { stopping.withLock { $0 } }

    /// Refuses new requests from now on; false when that had already begun.
    func beginStopping() -> Bool {
        stopping.withLock { s -> Bool in
            defer { s = true }; return !s
        }
    }

    /// Requests being handled now.
    var requestsInFlight: Int { inFlight.withLock { $0 } }

    /// Runs one request, counted as in flight until its handler returns (its body, if streamed, is counted by
    /// `ActiveStreams` from before that moment).
    func track<T>(_ body: () async throws -> T) async rethrows -> T {
        inFlight.withLock { $0 += 1 }
        defer { inFlight.withLock { $0 -= 1 } }
        return try await body()
    }

    /// Waits for the signals, then for the work in progress (at most `limit`), then stops `group`.
    func watch(_ group: ServiceGroup, limit: Duration, logger: Logger) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                guard beginStopping() else { return }
                logger.info(
                    "stopping",
                    metadata: [
                        "signal": "\(number == SIGTERM ? "SIGTERM" : "SIGINT")",
                        "requests": "\(inFlight.withLock { $0 })", "streams": "\(streams.active)",
                    ])
                Task {
                    let deadline = ContinuousClock.now + limit
                    while (inFlight.withLock { $0 } > 0 || streams.active > 0) && ContinuousClock.now < deadline {
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    await group.triggerGracefulShutdown()
                }
            }
            source.resume()
            return source
        }
    }
}

/// Counts requests for `ShutdownCoordinator` and refuses new ones once it is stopping, in Veloquent's envelope.
struct ShutdownMiddleware: RouterMiddleware {
    typealias Context = VeloRequestContext
    let coordinator: ShutdownCoordinator
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if coordinator.isStopping {
            var error = APIError(.serviceUnavailable, "The server is shutting down; try again shortly.")
            error.headers[.retryAfter] = "5"
            return Envelope.failure(error)
        }
        return try await coordinator.track {
            // From here on a signal waits for this request (and for the body it returns).
            logger.debug("begin", metadata: ["method": "\(request.method.rawValue)", "path": "\(request.uri.path)"])
            return try await next(request, context)
        }
    }
}
