import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Paths to the shared Veloquent fixtures and scratch space for tests.
enum Fixtures {
    /// The repository root (two levels above this file's folder).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `../shared/fixtures/veloquent`, beside the repository.
    static let veloquent = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/veloquent")
    static let tenantTest = veloquent.appendingPathComponent("tenant_test.sqlite").path
    static let exampleSchema = veloquent.appendingPathComponent("example-tenant-schema.sql").path
    /// Whether `../shared` is there; tests that need it are skipped with a message when it is not.
    static let available = FileManager.default.fileExists(atPath: tenantTest)
    static let skipMessage: Comment = "../shared/fixtures/veloquent is absent: Veloquent fixture tests skipped"

    /// A new empty directory that is removed when the process exits.
    static func temporaryDirectory(_ name: String = #function) -> URL {
        _ = removedAtExit
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "velo-tests-\(getpid())/\(safe)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The S3 metadata cache of every repository the tests open (`XDG_CACHE_HOME` of their environments): inside
    /// the run's scratch folder, so that test buckets leave nothing in the user's `~/.cache`.
    static let cacheHome: String = temporaryDirectory("s3-cache").path

    /// The run's scratch folder (`velo-tests-<pid>`) is removed when the test process exits, unless
    /// VELO_KEEP_TEST_FILES is set (to look at what a failed test left).
    static let removedAtExit: Void = {
        atexit {
            guard getenv("VELO_KEEP_TEST_FILES") == nil else { return }
            try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("velo-tests-\(getpid())"))
        }
    }()

    /// A demo database with `posts` posts in a new temporary directory.
    static func demo(posts: Int = 200, seed: UInt64 = 7, journalMode: String = "delete", name: String = #function) throws -> String {
        let path = temporaryDirectory(name).appendingPathComponent("demo.sqlite").path
        try DemoDatabase(options: .init(posts: posts, seed: seed, journalMode: journalMode)).write(to: path)
        return path
    }

    /// `sqlite3 PATH .dump` (CI installs sqlite3): the reference for "the same logical content".
    static func dump(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", path, ".dump"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Loads the hand-written example schema (with its `posts` collection) into a new database.
    static func exampleDatabase(name: String = #function) throws -> String {
        let path = temporaryDirectory(name).appendingPathComponent("example.sqlite").path
        let db = try Database(path: path, mode: .create)
        var sql = try String(contentsOfFile: exampleSchema, encoding: .utf8)
        sql = sql.replacingOccurrences(of: "<bcrypt hash, e.g. $2y$12$...>", with: "$2y$12$abcdefghijklmnopqrstuv")
        try db.execute(sql)
        return path
    }
}

extension Backup.Options {
    /// A self-contained archive (format version 1), for tests that take an archive apart or read it alone:
    /// every backup is incremental unless told otherwise.
    static var fullArchive: Self {
        var options = Self()
        options.incremental = false
        return options
    }
}

extension PieceStore {
    /// The pieces of the repository folder at `root`.
    convenience init(root: String) { self.init(storage: LocalStorage(root: root)) }

    /// Where a piece is in a local repository (tests damage and inspect pieces as files).
    func path(_ relative: String) -> String { ((storage as! LocalStorage).root as NSString).appendingPathComponent(relative) }
}

extension Repository {
    /// The file at `relative` in a local repository's folder: tests damage and inspect repositories through
    /// the file system on purpose (velo itself goes through `storage`).
    func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    /// The file that holds a snapshot's catalog entry, and its detail.
    func entryFile(_ id: String) -> String { path(StoredName.catalogEntry(id).relativePath) }
    func detailFile(_ id: String) -> String { path(StoredName.catalogDetail(id).relativePath) }
}
