import ArgumentParser
import Foundation
import Logging
import Synchronization
import VeloKit
import VeloServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve Veloquent's superuser schema API (corrupt, recover, orphans, transfer) and velo's backups over HTTP.",
        discussion: """
            Same paths, bodies, status codes and {"message","data"} envelopes as Veloquent, under --api-prefix. Superusers log in with POST /api/collections/superusers/auth/login; tokens are stored in the tenant's auth_tokens as Veloquent stores them, so tokens work in both. Every other route needs 'Authorization: Bearer <token>'. Routes that change a database snapshot it into --repo first and refuse without one. With --landlord, the request's Host picks the tenant (tenants.domain), and a tenant's superusers see only its own snapshots but for the tenants named by --operator, whose superusers see every tenant's. SIGTERM or SIGINT finishes the running requests (new ones get 503), then stops. With --config, velo run's rounds run every minute beside the API, and with its "continuous" settings velo replicate's capture of its sources too (see velo.example.json). One logfmt line per request on stderr. The OpenAPI document is at GET /api/openapi.json (docs/openapi.yaml).
            """)

    @Option(
        name: .long, help: ArgumentHelp("Serve this one Veloquent database (default: $VELO_DB).", valueName: "path"), completion: .file())
    var db: String?

    @Option(
        name: .long, help: ArgumentHelp("Serve every tenant of this landlord database, picked by the request's Host.", valueName: "path"),
        completion: .file())
    var landlord: String?

    @Option(
        name: .customLong("operator"),
        help: ArgumentHelp(
            "With a landlord, the domain of a tenant whose superusers operate the repository: they see every tenant's snapshots and status, and may prune (repeatable; by default a tenant sees only its own).",
            valueName: "domain"))
    var operators: [String] = []

    @Option(name: .long, help: ArgumentHelp("Address and port to listen on (port 0: any free port).", valueName: "host:port"))
    var listen = "127.0.0.1:8090"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The snapshot repository (default: $VELO_REPO); without one, nothing that changes a database runs.", valueName: "dir"),
        completion: .directory)
    var repo: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "An encrypted repository's password: this file's first line (default: the config's password_file or password_command, else $VELO_PASSWORD_FILE, $VELO_PASSWORD_COMMAND, a prompt on a terminal at start). Read once.",
            valueName: "path"), completion: .file())
    var passwordFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also run velo run's rounds of this config on velo's own clock (every minute; never two at once); its repository is the default --repo, and its app or single database the default --landlord or --db; with an app, a tenant's restore also restores its uploaded files.",
            valueName: "file"), completion: .file())
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Veloquent's API prefix (velo.api_prefix).", valueName: "prefix"))
    var apiPrefix = "api"

    @Option(name: .long, help: ArgumentHelp("The largest transfer import body, in bytes (larger is 413).", valueName: "bytes"))
    var maxBody: Int64 = 1 << 30

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for Veloquent's lock on a database.", valueName: "seconds"))
    var busyTimeout: Double = 5

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if db != nil && landlord != nil { throw ValidationError("--db and --landlord exclude each other") }
        if Self.parseListen(listen) == nil { throw ValidationError("--listen \(listen): expected HOST:PORT, e.g. 127.0.0.1:8090") }
        if maxBody < 1 { throw ValidationError("--max-body must be at least 1 byte") }
    }

    /// `host:port`, `[v6]:port` or `:port` (all interfaces).
    static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// Serves on Swift concurrency's threads while the main thread waits.
    func run() throws {
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await serve() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// What `--config` says to serve when neither --db, --landlord nor VELO_DB does: the app's landlord (or its
    /// single tenant's database), or the config's only database.
    static func databases(from config: RunConfig) throws -> ServerConfiguration.Databases {
        if let app = config.app {
            let layout = try AppLayout.load(app)
            return layout.tenancy ? .landlord(layout.defaultDatabase) : .single(layout.defaultDatabase)
        }
        guard config.databases.count == 1 else {
            throw VeloError("\(config.file) names \(config.databases.count) databases: choose the one to serve with --db", kind: .usage)
        }
        return .single(config.databases[0])
    }

    func serve() async throws {
        var rounds = try config.map { try RunConfig.load(path: $0) }
        let envDB = ProcessInfo.processInfo.environment["VELO_DB"].flatMap { $0.isEmpty ? nil : $0 }
        let databases: ServerConfiguration.Databases
        if let landlord {
            databases = .landlord(landlord)
        } else if db == nil && envDB == nil, let rounds, case .landlord(let path) = try Self.databases(from: rounds) {
            databases = .landlord(path)
        } else {
            var given = db ?? envDB
            if given == nil, let rounds, case .single(let path) = try Self.databases(from: rounds) { given = path }
            let path = try DatabaseOption.parse(given.map { ["--db", $0] } ?? []).path()
            try Backup.checkSource(path, busyTimeout: .milliseconds(Int(busyTimeout * 1000)))
            databases = .single(path)
        }
        if case .landlord(let path) = databases, !FileManager.default.fileExists(atPath: path) {
            throw VeloError("\(path): no such landlord database")
        }
        var configuration = ServerConfiguration(databases: databases)
        var operatorsWithoutTenant: [(landlord: String, domain: String)] = []
        if !operators.isEmpty {
            guard case .landlord(let path) = databases else {
                throw VeloError(
                    "--operator needs a landlord (--landlord, or a config's app with tenants): with one database every superuser already sees every source",
                    kind: .usage)
            }
            configuration.setOperators(operators)
            operatorsWithoutTenant = try configuration.operatorsWithoutTenant().map { (path, $0) }
        }
        let (host, port) = Self.parseListen(listen)!
        configuration.host = host
        configuration.port = port
        let repositoryPath =
            repo.flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.environment["VELO_REPO"].flatMap { $0.isEmpty ? nil : $0 }
            ?? rounds?.repository
        configuration.repository = repositoryPath
        configuration.app = rounds?.app
        if let rounds {
            configuration.maxAge = rounds.maxAge
            configuration.retention = rounds.retentionJSON
        }
        // Read once (a prompt at start), remembered for every request and round.
        let password = (passwordFile.map { PasswordSource.file($0) } ?? rounds?.password ?? PasswordSource.given(file: nil))?.remembered()
        configuration.password = password
        rounds?.password = password
        // A bad --repo (or a wrong password) fails now, not at the first request.
        if let path = repositoryPath { _ = try Repository.open(path, create: true, access: RepositoryAccess(password: password)) }
        configuration.apiPrefix = apiPrefix
        configuration.maxBodyBytes = maxBody
        configuration.busyTimeout = .milliseconds(Int(max(0, busyTimeout) * 1000))
        let level: Logger.Level = output.quiet ? .error : (output.verbose ? .debug : .info)
        let logger = Logger(label: "velo.serve") { LogfmtHandler(label: $0, level: level) }
        if repositoryPath == nil {
            logger.warning("no --repo: recover, orphan drops, imports and the backup routes refuse to run")
        }
        for (landlord, domain) in operatorsWithoutTenant {
            logger.warning("\(landlord): no tenant has the domain \(domain) yet; --operator \(domain) applies once one does")
        }
        let server = VeloServer(configuration: configuration, logger: logger)
        let clock = RoundClock()
        if let rounds {
            clock.start(config: rounds) { outcome in
                switch outcome {
                case .success(let report):
                    let backedUp = report.backups.filter { $0.action == "backed-up" }.count
                    let metadata: Logger.Metadata = [
                        "backed_up": "\(backedUp)", "failed": "\(report.failed.joined(separator: ","))",
                        "pruned": "\(report.prune?.remove.count ?? 0)", "verified": "\(report.verified.count)",
                        "damaged": "\(report.damaged.joined(separator: ","))", "status": "\(report.status.rawValue)",
                    ]
                    if report.failed.isEmpty && report.damaged.isEmpty {
                        logger.info("round", metadata: metadata)
                    } else {
                        logger.error("round", metadata: metadata)
                    }
                case .failure(let error):
                    logger.error("round", metadata: ["error": "\(error)"])
                }
            }
        }
        // The config's continuous capture, beside the rounds.
        let capture = BackgroundReplication()
        if let rounds, rounds.continuous != nil {
            let config = rounds
            capture.start(
                config: config,
                repository: { try Repository.open(config.repository, create: true, access: RepositoryAccess(password: config.password)) }
            ) { event in
                switch event {
                case .started(let sources): logger.info("capture", metadata: ["sources": "\(sources.count)", "state": "started"])
                case .stopped(let summary):
                    logger.info(
                        "capture",
                        metadata: [
                            "state": "stopped", "batches": "\(summary.batches)", "commits": "\(summary.commits)", "gaps": "\(summary.gaps)",
                        ])
                case .failed(let message): logger.error("capture", metadata: ["error": "\(message)", "retry": "60s"])
                }
            }
        }
        defer {
            // The HTTP side has finished what it began; a round still running stops at its next checkpoint,
            // undoing what it had begun, as velo run does on SIGTERM. Capture stores what it read last.
            capture.stop()
            if clock.isRunning { logger.info("stopping the running round") }
            clock.stop(interrupt: true)
        }
        try await server.run { port in
            logger.info("listening", metadata: ["address": "\(host):\(port)", "prefix": "/\(apiPrefix)"])
        }
    }
}
