import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `velo serve` as a process: it says where it listens, logs each request as one logfmt line on stderr, and on
/// SIGTERM finishes the request it is serving before it exits 0.
@Suite struct ServeCommandTests {
    @Test func sigtermFinishesTheRunningRequestThenExits() async throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        try DemoDatabase(options: .init(posts: 6000, seed: 3, journalMode: "delete")).write(to: db)
        try Database(path: db, mode: .readWrite).prepare("UPDATE superusers SET password = ?").run([
            .text(PasswordCheck.hash("pw-for-serve", cost: 4))
        ])
        let process = Process()
        process.executableURL = VeloProcess.executable
        process.arguments = ["serve", "--db", db, "--repo", dir.appendingPathComponent("repo").path, "--listen", "127.0.0.1:0", "-v"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // The first line says where it listens.
        var stderr = Data()
        var port: Int?
        while port == nil {
            let chunk = err.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            stderr.append(chunk)
            let text = String(decoding: stderr, as: UTF8.self)
            if let range = text.range(of: #"address=127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)
            }
        }
        let base = "http://127.0.0.1:\(try #require(port, "no listening line: \(String(decoding: stderr, as: UTF8.self))"))/api"
        var login = URLRequest(url: URL(string: "\(base)/collections/superusers/auth/login")!)
        login.httpMethod = "POST"
        login.httpBody = Data(#"{"identity":"admin@acme.test","password":"pw-for-serve"}"#.utf8)
        login.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (loginBody, _) = try await URLSession.shared.data(for: login)
        let token = try #require(try JSONParser.parse(Array(loginBody))["data"]?["token"]?.stringValue)
        // A long request (an export of every collection with its records), then SIGTERM while it runs.
        var export = URLRequest(url: URL(string: "\(base)/schema/transfer/export")!)
        export.httpMethod = "POST"
        export.timeoutInterval = 120
        export.httpBody = Data(#"{"collections":["posts","comments","users","tags"]}"#.utf8)
        export.setValue("application/json", forHTTPHeaderField: "Content-Type")
        export.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let running = Task { try await URLSession.shared.data(for: export) }
        // SIGTERM once the server has begun the export (its debug line says so); a signal before a request
        // arrives cannot wait for it. The export takes about 160 ms in a debug build, plus its body.
        let begun = Date().addingTimeInterval(30)
        while !String(decoding: stderr, as: UTF8.self).contains("msg=begin method=POST path=/api/schema/transfer/export") && Date() < begun
        {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            stderr.append(chunk)
        }
        kill(process.processIdentifier, SIGTERM)
        let (body, response) = try await running.value
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let payload = try JSONParser.parse(Array(body))
        #expect(payload["data"]?["records"]?["_velo_posts"]?.arrayValue?.count == 6000)
        stderr.append(err.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let log = String(decoding: stderr, as: UTF8.self)
        #expect(log.contains("msg=request method=POST") || log.contains("method=POST"))
        #expect(log.contains("path=/api/schema/transfer/export"))
        #expect(log.contains("status=200"))
        #expect(!log.contains(token))
    }

    @Test func refusesBothDbAndLandlord() throws {
        let result = try VeloProcess.run(["serve", "--db", "a.sqlite", "--landlord", "b.sqlite"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--db and --landlord exclude each other"))
        let listen = try VeloProcess.run(["serve", "--db", "a.sqlite", "--listen", "nowhere"])
        #expect(listen.status == 64)
    }

    /// `--operator` over a whole demo app (a landlord as Veloquent's migration makes it, two tenants, backed up with
    /// `velo backup --app`): the operator tenant's superuser sees both tenants, named; the other tenant sees only
    /// its own. With one database the flag means nothing and is refused; a domain no tenant has is warned about.
    @Test func anOperatorTenantSeesEveryTenantOfAnAppAndTheFlagNeedsALandlord() async throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path
        let repo = dir.appendingPathComponent("repo").path
        for arguments in [
            ["demo", "--app", app, "--tenants", "2", "--posts", "5", "--files", "0"], ["backup", "--app", app, "--repo", repo],
        ] {
            let result = try VeloProcess.run(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
        let landlord = app + "/database/database.sqlite"
        let tenants = try Scratch.sqlite(landlord, "SELECT domain || ' ' || database FROM tenants ORDER BY id").split(separator: "\n")
            .map { $0.split(separator: " ").map(String.init) }
        try #require(tenants.count == 2, "\(tenants)")
        for tenant in tenants {
            try Database(path: tenant[1], mode: .readWrite).prepare("UPDATE superusers SET password = ?").run([
                .text(PasswordCheck.hash("pw-for-serve", cost: 4))
            ])
        }
        let (operatorDomain, otherDomain) = (tenants[0][0], tenants[1][0])

        let single = try VeloProcess.run(["serve", "--db", tenants[0][1], "--operator", operatorDomain, "--listen", "127.0.0.1:0"])
        #expect(single.status == 64 && single.stderr.contains("--operator needs a landlord"), "\(single.status) \(single.stderr)")

        let server = try ServedForTest([
            "serve", "--landlord", landlord, "--operator", operatorDomain, "--operator", "opps.localhost", "--repo", repo,
            "--listen", "127.0.0.1:0",
        ])
        defer { server.stop() }
        #expect(server.log().contains("no tenant has the domain opps.localhost yet"), "\(server.log())")
        #expect(!server.log().contains("domain \(operatorDomain)"), "\(server.log())")
        func status(as host: String) async throws -> JSONValue {
            var login = URLRequest(url: URL(string: "\(server.base)/api/collections/superusers/auth/login")!)
            login.httpMethod = "POST"
            login.httpBody = Data(#"{"identity":"admin@acme.test","password":"pw-for-serve"}"#.utf8)
            login.setValue("application/json", forHTTPHeaderField: "Content-Type")
            login.setValue(host, forHTTPHeaderField: "Host")
            let (body, _) = try await URLSession.shared.data(for: login)
            let token = try #require(
                try JSONParser.parse(Array(body))["data"]?["token"]?.stringValue, "\(host): \(String(decoding: body, as: UTF8.self))")
            var request = URLRequest(url: URL(string: "\(server.base)/api/backups/status")!)
            request.setValue(host, forHTTPHeaderField: "Host")
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            let (status, _) = try await URLSession.shared.data(for: request)
            return try #require(try JSONParser.parse(Array(status))["data"])
        }
        func file(_ path: String) -> String { (path as NSString).lastPathComponent }
        let seen = try await status(as: operatorDomain)
        let sources = Set((seen["sources"]?.arrayValue ?? []).compactMap { $0["source"]?.stringValue })
        #expect(sources == [file(landlord), file(tenants[0][1]), file(tenants[1][1])], "the operator sees every source: \(sources)")
        #expect(seen["tenants"]?[file(tenants[1][1])]?["domain"]?.stringValue == otherDomain, "\(seen)")
        #expect(seen["tenants"]?[file(landlord)] == nil, "the landlord is no tenant: \(seen)")
        let own = try await status(as: otherDomain)
        #expect((own["sources"]?.arrayValue ?? []).compactMap { $0["source"]?.stringValue } == [file(tenants[1][1])], "\(own)")
        #expect(own["tenants"]?.objectValue?.map(\.0) == [file(tenants[1][1])], "\(own)")
    }

    /// `velo serve --config`: the config's database is served, and velo run's rounds run beside the API (the first
    /// at start); SIGTERM stops both.
    @Test func serveWithAConfigRunsRoundsBesideTheAPI() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        try DemoDatabase(options: .init(posts: 20, seed: 3, journalMode: "wal")).write(to: db)
        let config = dir.appendingPathComponent("velo.json").path
        try #"{"repository": "repo", "databases": ["tenant.sqlite"], "backup_every": "1h", "prometheus": "velo.prom"}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let (process, err, started) = try Self.serveWithConfig(config)
        defer { if process.isRunning { process.terminate() } }
        var log = started
        #expect(log.contains("listening") && log.contains("msg=round"), "\(log)")
        #expect(log.contains("backed_up=1") && log.contains("status=ok"), "\(log)")
        kill(process.processIdentifier, SIGTERM)
        log += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(log)")
        let snapshots = try VeloProcess.run(["snapshots", "--repo", dir.appendingPathComponent("repo").path, "--json"])
        #expect((try JSONParser.parse(snapshots.stdout).arrayValue ?? []).count == 1)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("velo.prom").path))
    }

    /// An encrypted repository behind `velo serve --config`: the config's password_file opens it once, at start,
    /// for the rounds and the routes; a wrong password stops the server at start with exit status 12.
    @Test func serveOpensAnEncryptedRepositoryWithTheConfigsPassword() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        try DemoDatabase(options: .init(posts: 20, seed: 3, journalMode: "wal")).write(to: db)
        let password = dir.appendingPathComponent("password").path
        try "served\n".write(toFile: password, atomically: true, encoding: .utf8)
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["init", "--repo", repo, "--encrypt", "--password-file", password]).status == 0)
        let config = dir.appendingPathComponent("velo.json").path
        try #"{"repository": "repo", "databases": ["tenant.sqlite"], "backup_every": "1h", "password_file": "password"}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let (process, _, log) = try Self.serveWithConfig(config)
        defer { if process.isRunning { process.terminate() } }
        #expect(log.contains("backed_up=1") && log.contains("status=ok"), "\(log)")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let snapshots = try VeloProcess.run(["snapshots", "--repo", repo, "--json", "--password-file", password])
        #expect((try JSONParser.parse(snapshots.stdout).arrayValue ?? []).count == 1, "\(snapshots.stderr)")

        try "not it\n".write(toFile: password, atomically: true, encoding: .utf8)
        let refused = try VeloProcess.run(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        #expect(refused.status == 12 && refused.stderr.contains("wrong password"), "\(refused.stderr)")
    }

    /// Starts `velo serve --config config` on a free port and returns it with its stderr and what it logged until
    /// it listened and ran its first round (at most a minute).
    static func serveWithConfig(_ config: String) throws -> (Process, Pipe, String) {
        let process = Process()
        process.executableURL = VeloProcess.executable
        process.arguments = ["serve", "--config", config, "--listen", "127.0.0.1:0"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var log = ""
        let deadline = Date().addingTimeInterval(60)
        while !(log.contains("listening") && log.contains("msg=round")) && Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            log += String(decoding: chunk, as: UTF8.self)
        }
        return (process, err, log)
    }
}
