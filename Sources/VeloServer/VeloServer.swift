import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import VeloKit

/// `velo serve`: Veloquent's superuser schema-management API (same paths, bodies, status codes and envelopes),
/// backed by velo's implementation, plus velo's backup routes and the OpenAPI document of them all. Every route
/// but login needs a superuser's bearer token. Long operations run off the event loop.
package struct VeloServer: Sendable {
    package let configuration: ServerConfiguration
    let state: ServerState

    package init(configuration: ServerConfiguration, logger: Logger = Logger(label: "velo.serve")) {
        self.configuration = configuration
        state = ServerState(configuration: configuration, logger: logger)
    }

    /// The router of every route, behind the access log, CORS, the error envelope, Laravel's answers to unknown
    /// paths and methods, and the tenant lookup.
    func router() -> Router<VeloRequestContext> {
        // HEAD of every GET route, as Laravel registers it.
        let router = Router(context: VeloRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: AccessLogMiddleware(logger: state.logger))
        router.add(middleware: ShutdownMiddleware(coordinator: state.shutdown, logger: state.logger))
        router.add(middleware: CORSMiddleware(prefix: configuration.pathPrefix))
        router.add(middleware: ErrorEnvelopeMiddleware())
        router.add(middleware: LaravelRoutingMiddleware(routes: RouteTable(prefix: configuration.pathPrefix)))
        router.add(middleware: TenantMiddleware(state: state))
        BackupsPage(apiPrefix: configuration.pathPrefix).register(on: router)
        let prefix = configuration.pathPrefix.isEmpty ? "/" : configuration.pathPrefix
        let api = router.group(RouterPath(prefix))
        let login = LoginRoute(state: state)
        api.post("collections/superusers/auth/login") { request, context in try await login.handle(request, context: context) }
        AuthRoutes(state: state).register(on: api)
        let protected = api.group().add(middleware: SuperuserMiddleware(state: state))
        SchemaRoutes(state: state).register(on: protected)
        TransferRoutes(state: state).register(on: protected)
        BackupRoutes(state: state).register(on: protected)
        let document = OpenAPIDocument.json(prefix: configuration.pathPrefix)
        protected.get("openapi.json") { _, _ in Envelope.json(document) }
        return router
    }

    /// The Hummingbird application; `onRunning` is told the bound port (for `--listen host:0`).
    func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "velo"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: state.logger)
    }

    /// Serves until SIGTERM or SIGINT; then answers new requests with 503, finishes the running requests and the
    /// response bodies they began (for at most `drainLimit`), and stops (`ShutdownCoordinator`). First removes
    /// the temporary folders of servers that were killed (`TemporaryFolder.removeAbandoned`).
    package func run(drainLimit: Duration = .seconds(300), onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        for path in TemporaryFolder.removeAbandoned() {
            state.logger.info("removed a temporary folder a stopped server left", metadata: ["path": "\(path)"])
        }
        let group = ServiceGroup(configuration: .init(services: [application(onRunning: onRunning)], logger: state.logger))
        let sources = state.shutdown.watch(group, limit: drainLimit, logger: state.logger)
        defer { sources.forEach { $0.cancel() } }
        try await group.run()
    }

    /// Serves until the calling task is cancelled (tests: start in a task, cancel to stop).
    package func runUntilCancelled(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await application(onRunning: onRunning).runService(gracefulShutdownSignals: [])
    }
}
