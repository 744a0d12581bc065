import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// velo's S3 repositories and the AWS CLI (SeaweedFS on loopback): what velo writes is what `aws s3 ls` and
/// `aws s3api list-objects-v2` list, a full archive fetched with `aws s3 cp` checks offline exactly as
/// docs/FORMAT.md's "Checking an archive by hand" says (its commands, run as written), and a repository moved with
/// `aws s3 sync`, up or down, is the same repository on the other side.
///
/// Repositories are opened with `Repository.open(storage:)` and SeaweedFS's credentials given to S3Storage, not
/// put in the process environment: other suites running in parallel read it.
@Suite struct S3InteropTests {
    /// The AWS CLI, pointed at the test server, with a home and config of its own (never the user's).
    struct AWSCLI {
        let executable: String
        let port: Int
        let home: String

        static func find(_ server: SeaweedFS) -> AWSCLI? {
            guard let aws = SeaweedFS.which("aws") else {
                #expect(ProcessInfo.processInfo.environment["CI"] == nil, "the AWS CLI is missing in CI (.ci/run installs awscli)")
                print("skipped: the AWS CLI (aws) is not installed (pip install awscli): interoperability is not tested")
                return nil
            }
            let home = Fixtures.temporaryDirectory("aws-home").path
            // Files over 64 KiB go up as multipart uploads, in 5 MiB parts: objects with multipart ETags, as a
            // repository synced by the CLI has.
            try? "[default]\ns3 =\n  multipart_threshold = 64KB\n  multipart_chunksize = 5MB\n".write(
                toFile: home + "/config", atomically: true, encoding: .utf8)
            return AWSCLI(executable: aws, port: server.s3Port, home: home)
        }

        var environment: [String: String] {
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
            environment["HOME"] = home
            environment["AWS_CONFIG_FILE"] = home + "/config"
            environment["AWS_SHARED_CREDENTIALS_FILE"] = home + "/credentials"
            environment["AWS_ACCESS_KEY_ID"] = SeaweedFS.accessKey
            environment["AWS_SECRET_ACCESS_KEY"] = SeaweedFS.secretKey
            environment["AWS_DEFAULT_REGION"] = "us-east-1"
            environment["AWS_EC2_METADATA_DISABLED"] = "true"
            return environment
        }

        /// Runs `aws ARGUMENTS --endpoint-url …`; its standard output, after expecting it to succeed. SeaweedFS
        /// (4.48) now and then never answers one of the CLI's uploads among its concurrent ones (a PUT or an
        /// UploadPart; the CLI alone shows it, velo's client does not): the CLI waits its read timeout, 60 s by
        /// default, then sends it again; 5 s keeps such a stall short.
        @discardableResult
        func callAsFunction(_ arguments: String...) throws -> String {
            let result = MotoServer.run(
                executable, arguments + ["--endpoint-url", "http://127.0.0.1:\(port)", "--cli-read-timeout", "5"], environment: environment)
            try #require(result.status == 0, "aws \(arguments.joined(separator: " ")): exit \(result.status): \(result.error)")
            return result.output
        }
    }

    static func setUp() -> (SeaweedFS, AWSCLI)? {
        guard let server = try? S3StorageTests.server(), let aws = AWSCLI.find(server) else { return nil }
        return (server, aws)
    }

    /// A new repository at `location` in the test bucket, velo's storage given the server's credentials.
    static func open(_ location: String, create: Bool = false) throws -> Repository {
        try Repository.open(storage: try S3Storage(location, environment: SeaweedFS.environment), create: create, named: location)
    }

    /// The keys of every object a repository's catalog and data account for: its identity, each snapshot's
    /// archive, catalog entry and detail, and the packs and lists velo lists.
    static func expectedKeys(_ repository: Repository) throws -> Set<String> {
        var keys: Set<String> = [StoredName.config.relativePath]
        for entry in try repository.catalog.entries() {
            keys.formUnion([entry.archive, "catalog/\(entry.id).json", "catalog/\(entry.id).manifest.json"])
        }
        for kind in [StoredKind.pack, .list] { try repository.storage.list(kind) { name, _ in keys.insert(name.relativePath) } }
        return keys
    }

    /// Backups of a demo database: a full (format 1) one, then after each change an incremental one.
    static func backUp(_ source: String, into repository: Repository, changes: [String]) throws -> [CatalogEntry] {
        var options = Backup.Options()
        options.incremental = false
        _ = try Backup.run(databasePath: source, repository: repository, options: options)
        let db = try Database(path: source, mode: .readWrite)
        for change in changes {
            try db.execute(change)
            _ = try Backup.run(databasePath: source, repository: repository, options: .init())
        }
        return try repository.catalog.entries()
    }

    /// (a) velo writes a full and an incremental backup into a bucket; the AWS CLI lists exactly the objects
    /// velo accounts for (nothing left over: no lock, no marker, no upload), with their sizes; the full archive,
    /// fetched with `aws s3 cp`, passes FORMAT.md's checks by hand and has the SHA-256 its catalog entry (also
    /// fetched) records; and `aws s3 sync` down makes a local repository velo verifies.
    @Test func whatVeloWritesIsWhatTheAWSCLIListsAndFetches() throws {
        guard case let (server, aws)? = Self.setUp() else { return }
        let location = server.location("interop")
        let prefix = try S3Location(location).prefix
        let repository = try Self.open(location, create: true)
        let source = try Fixtures.demo(posts: 300)
        let entries = try Self.backUp(
            source, into: repository, changes: ["UPDATE _velo_posts SET title = title || '!' WHERE rowid % 7 = 0"])
        try #require(entries.count == 2)
        #expect(entries[0].storedBytes == nil && entries[1].storedBytes != nil, "a full archive, then an incremental snapshot")
        let expected = try Self.expectedKeys(repository)
        #expect(expected.contains { $0.hasPrefix("data/packs/") } && expected.contains { $0.hasPrefix("data/lists/") })

        // aws s3 ls --recursive: "DATE TIME SIZE KEY" per object.
        let bucketURL = "s3://\(SeaweedFS.bucket)/\(prefix)"
        var listedByLs: [String: Int64] = [:]
        for line in try aws("s3", "ls", "--recursive", bucketURL + "/").split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
            try #require(fields.count == 4, "an `aws s3 ls` line: \(line)")
            #expect(fields[3].hasPrefix(prefix + "/"))
            listedByLs[String(fields[3].dropFirst(prefix.count + 1))] = Int64(fields[2])
        }
        #expect(Set(listedByLs.keys) == expected, "aws s3 ls lists exactly what velo wrote")
        let pieceName = try Regex(#"^data/(packs|lists)/([0-9a-f]{2})/\2[0-9a-f]{62}\.(pack|list)$"#)
        for key in listedByLs.keys where key.hasPrefix("data/") { #expect(key.wholeMatch(of: pieceName) != nil, "\(key)") }

        // aws s3api list-objects-v2: the same keys, each with the size velo stats.
        let listing = try #require(
            try JSONSerialization.jsonObject(
                with: Data(
                    try aws("s3api", "list-objects-v2", "--bucket", SeaweedFS.bucket, "--prefix", prefix + "/", "--output", "json").utf8))
                as? [String: Any])
        let contents = try #require(listing["Contents"] as? [[String: Any]])
        var listedByS3API: [String: Int64] = [:]
        for object in contents {
            let key = try #require(object["Key"] as? String)
            listedByS3API[String(key.dropFirst(prefix.count + 1))] = (object["Size"] as? NSNumber)?.int64Value
        }
        #expect(listedByS3API == listedByLs)
        for entry in entries { #expect(listedByS3API[entry.archive] == entry.archiveBytes, "\(entry.archive)") }
        for (key, size) in listedByS3API where key.hasPrefix("catalog/") {
            #expect(try repository.storage.stat(StoredName(.catalog, String(key.dropFirst(8))))?.size == size, "\(key)")
        }

        // The full archive, fetched with the AWS CLI and checked by hand.
        let full = entries[0]
        let dir = Fixtures.temporaryDirectory()
        let archive = dir.appendingPathComponent(URL(fileURLWithPath: full.archive).lastPathComponent).path
        try aws("s3", "cp", "\(bucketURL)/\(full.archive)", archive)
        try aws("s3", "cp", "\(bucketURL)/catalog/\(full.id).json", dir.appendingPathComponent("entry.json").path)
        let entryJSON = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("entry.json"))) as? [String: Any])
        #expect(entryJSON["archive_sha256"] as? String == full.archiveSHA256)
        #expect(entryJSON["archive"] as? String == full.archive)
        try Self.checkByHand(archive, sha256: full.archiveSHA256, in: dir.path)

        // And back: the bucket synced down is a local repository with the same snapshots, each sound.
        let down = dir.appendingPathComponent("down").path
        try aws("s3", "sync", bucketURL, down)
        let local = try Repository.open(down)
        #expect(try local.catalog.entries() == entries)
        for entry in try local.catalog.entries() {
            let report = try Verifier.verify(.catalogued(entry, repository: local))
            #expect(report.ok, "\(entry.id): \(report.problems)")
        }
    }

    /// (b) A local repository velo made, uploaded with `aws s3 sync` (files over 64 KiB as multipart uploads, so
    /// with the CLI's multipart ETags), is an S3 repository to velo: the same catalog, every snapshot
    /// verifies, and each restores to what it restores to from the local repository.
    @Test func aRepositorySyncedUpWithTheAWSCLIIsReadByVelo() throws {
        guard case let (server, aws)? = Self.setUp() else { return }
        let dir = Fixtures.temporaryDirectory()
        let localRoot = dir.appendingPathComponent("local").path
        let local = try Repository.open(localRoot, create: true)
        let source = try Fixtures.demo(posts: 3_000)
        let entries = try Self.backUp(
            source, into: local,
            changes: [
                "UPDATE _velo_posts SET title = title || '!' WHERE rowid % 9 = 0", "DELETE FROM _velo_posts WHERE rowid % 13 = 0",
            ])
        try #require(entries.count == 3)
        let location = server.location("synced")
        let prefix = try S3Location(location).prefix
        try aws("s3", "sync", localRoot, "s3://\(SeaweedFS.bucket)/\(prefix)")

        let listing = try #require(
            try JSONSerialization.jsonObject(
                with: Data(
                    try aws("s3api", "list-objects-v2", "--bucket", SeaweedFS.bucket, "--prefix", prefix + "/", "--output", "json").utf8))
                as? [String: Any])
        let etags = try #require(listing["Contents"] as? [[String: Any]]).compactMap { $0["ETag"] as? String }
        #expect(etags.contains { $0.contains("-") }, "some objects went up as multipart uploads: \(etags)")

        let bucket = try Self.open(location)
        #expect(try bucket.catalog.entries() == entries, "the catalog lists the same snapshots")
        #expect(try Self.expectedKeys(bucket) == Self.expectedKeys(local))
        let shared = VerifiedParts()
        for entry in try bucket.catalog.entries() {
            let report = try Verifier.verify(.catalogued(entry, repository: bucket), verifiedParts: shared)
            #expect(report.ok, "\(entry.id): \(report.problems)")
            let fromBucket = dir.appendingPathComponent("bucket-\(entry.id).sqlite").path
            let fromLocal = dir.appendingPathComponent("local-\(entry.id).sqlite").path
            _ = try NewDatabaseRestore.run(.catalogued(entry, repository: bucket), manifest: nil, archiveSHA256: nil, to: fromBucket)
            _ = try NewDatabaseRestore.run(
                .catalogued(try #require(local.catalog.entry(entry.id)), repository: local), manifest: nil, archiveSHA256: nil,
                to: fromLocal)
            #expect(
                try FormatTwoDamagePropertyTests.fingerprint(fromBucket) == FormatTwoDamagePropertyTests.fingerprint(fromLocal),
                "\(entry.id)")
        }
        // velo writes to it as to any bucket repository: another incremental backup, which verifies.
        _ = try Backup.run(databasePath: source, repository: bucket, options: .init())
        let newest = try #require(try bucket.catalog.entries().last)
        #expect(try bucket.catalog.entries().count == 4 && Verifier.verify(.catalogued(newest, repository: bucket)).ok)
    }

    /// docs/FORMAT.md's "Checking an archive by hand", its commands run as written (`A=` set to `archive`) in
    /// `folder`; then the archive's SHA-256 by `sha256sum`. Skipped, loudly, when a tool it uses is missing.
    static func checkByHand(_ archive: String, sha256: String, in folder: String) throws {
        let tools = ["bash", "tar", "zstd", "jq", "sha256sum"]
        let missing = tools.filter { SeaweedFS.which($0) == nil }
        guard missing.isEmpty, let bash = SeaweedFS.which("bash"), let sha256sum = SeaweedFS.which("sha256sum") else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "\(missing) missing in CI: FORMAT.md's checks by hand are not run")
            print("skipped: \(missing.joined(separator: ", ")) not installed: FORMAT.md's checks by hand are not run on an archive from S3")
            return
        }
        let script = try formatDocumentCheck().map { $0.hasPrefix("A=") ? "A='\(archive)'" : $0 }.joined(separator: "\n")
        let result = MotoServer.run(bash, ["-c", script], in: folder)
        #expect(result.status == 0, "FORMAT.md's check failed (exit \(result.status)): \(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("checksums ok"), "\(result.output)")
        #expect(lines.contains("rows parse"), "\(result.output)")
        #expect(!result.output.contains("row count differs"), "\(result.output)")
        let objects = lines.filter { $0.hasPrefix("{") }
        #expect(objects.count == 2, "two rows as objects: \(result.output)")
        for line in objects {
            let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(row?["id"] != nil && row?["title"] != nil, "a post as an object: \(line)")
        }
        // Nothing is said on standard error (the recipe takes its two rows with `sed -n 1,2p`, which reads to the
        // end: `head -2` closed the pipe on jq, which then complained of a broken pipe).
        #expect(result.error.isEmpty, "\(result.error)")
        // The extracted header says format 1, and the archive's own SHA-256 is the catalog's.
        let header =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/x/velo-snapshot.json")))
            as? [String: Any]
        #expect(header?["version"] as? Int == 1, "a format-1 archive")
        let sum = MotoServer.run(sha256sum, [archive])
        #expect(sum.status == 0 && sum.output.hasPrefix(sha256 + " "), "sha256sum: \(sum.output)")
    }

    /// The commands of FORMAT.md's "Checking an archive by hand", line by line.
    static func formatDocumentCheck() throws -> [String] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../docs/FORMAT.md")
            .standardized
        let text = try String(contentsOf: path, encoding: .utf8)
        let section = try #require(text.range(of: "## Checking an archive by hand"))
        let rest = text[section.upperBound...]
        let start = try #require(rest.range(of: "```sh\n"))
        let end = try #require(rest[start.upperBound...].range(of: "```"))
        let lines = rest[start.upperBound..<end.lowerBound].split(separator: "\n").map(String.init)
        try #require(lines.first?.hasPrefix("A=") == true, "FORMAT.md's check starts by naming the archive: \(lines.first ?? "")")
        return lines
    }
}
