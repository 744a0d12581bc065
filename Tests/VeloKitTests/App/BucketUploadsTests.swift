import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Tenants whose uploads are on S3 (SeaweedFS on loopback): the app's bucket with `FILESYSTEM_DISK=s3`, or the
/// tenant's own bucket from its storage settings with the key and secret Laravel encrypted. Their objects go
/// into the snapshot's `files/` and come back to the bucket on restore, all or nothing.
@Suite struct BucketUploadsTests {
    /// A bucket of its own for a test (each tenant's uploads are at fixed keys of the bucket).
    static func bucket(_ server: SeaweedFS) throws -> (name: String, endpoint: String) {
        let name = "uploads-\(UUID().uuidString.prefix(8).lowercased())"
        let endpoint = "http://127.0.0.1:\(server.s3Port)"
        try S3Storage("s3:\(endpoint)/\(name)", environment: SeaweedFS.environment).createBucketIfMissing()
        return (name, endpoint)
    }

    static func disk(_ endpoint: String, _ bucket: String, prefix: String) throws -> S3Disk {
        let url = URL(string: endpoint)!
        return try S3Disk(
            location: S3Location(
                scheme: "http", host: url.host!, port: url.port, bucket: bucket, prefix: prefix, region: "us-east-1", pathStyle: true),
            credentials: .init(accessKeyID: SeaweedFS.accessKey, secretAccessKey: SeaweedFS.secretKey))
    }

    static func put(_ disk: S3Disk, _ relative: String, _ bytes: [UInt8]) throws {
        let writer = disk.create(relative)
        try writer.write(bytes)
        try writer.commit()
    }

    static func contents(_ disk: S3Disk, _ folder: String) throws -> [String: String] {
        var objects: [S3Disk.Object] = []
        try disk.list(folder) { objects.append($0) }
        var found: [String: String] = [:]
        for object in objects {
            var digest = SHA256Digest()
            _ = try disk.read(object, chunkBytes: 1 << 20) { digest.update($0) }
            found[object.relative] = digest.hex()
        }
        return found
    }

    /// A demo app whose tenants' uploads are moved from their folders to the app's bucket, with `.env` saying so.
    static func appOnBucket(
        _ server: SeaweedFS, tenants: Int, name: String = #function
    ) throws -> (app: String, bucket: String, endpoint: String) {
        let (bucket, endpoint) = try bucket(server)
        let app = Fixtures.temporaryDirectory(name).appendingPathComponent("app").path
        var options = DemoApp.Options()
        options.tenants = tenants
        options.posts = 30
        options.files = 2
        _ = try DemoApp(options: options).write(to: app)
        for id in 1...tenants {
            let root = app + "/storage/tenants/\(id)/app"
            let disk = try disk(endpoint, bucket, prefix: "tenants/\(id)/app")
            for file in try LocalUploads(root: root).walk(["uploads"]).files {
                try put(disk, file.relative, Array(try Data(contentsOf: URL(fileURLWithPath: root + "/" + file.relative))))
            }
            try FileManager.default.removeItem(atPath: root)
        }
        let env = try String(contentsOfFile: app + "/.env", encoding: .utf8).replacingOccurrences(
            of: "FILESYSTEM_DISK=local",
            with: """
                FILESYSTEM_DISK=s3
                AWS_ACCESS_KEY_ID=\(SeaweedFS.accessKey)
                AWS_SECRET_ACCESS_KEY="\(SeaweedFS.secretKey)"
                AWS_DEFAULT_REGION=us-east-1
                AWS_BUCKET=\(bucket)
                AWS_ENDPOINT=\(endpoint)
                AWS_USE_PATH_STYLE_ENDPOINT=true
                """)
        try env.write(toFile: app + "/.env", atomically: true, encoding: .utf8)
        return (app, bucket, endpoint)
    }

    @Test func uploadsOnTheAppsBucketAreBackedUpAndRestoredToIt() throws {
        guard let server = try S3StorageTests.server() else { return }
        let (app, bucket, endpoint) = try Self.appOnBucket(server, tenants: 2)
        let tenant = try Self.disk(endpoint, bucket, prefix: "tenants/1/app")
        // A file larger than one ranged read and one multipart part, in a collection of its own, under a name that
        // must be encoded in a path and in a copy's source.
        var large = [UInt8](repeating: 0, count: 9 << 20 | 12_345)
        var random = SystemRandomNumberGenerator()
        for i in stride(from: 0, to: large.count, by: 8) { large[i] = UInt8.random(in: 0...255, using: &random) }
        try Self.put(tenant, "uploads/collections/media/big file é+1.bin", large)
        let original = try Self.contents(tenant, "uploads/")
        #expect(original.count == 3)

        let layout = try AppLayout.load(app)
        let repository = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        Thread.sleep(forTimeInterval: 2.1)  // past the racy window of the objects' times: the next backup trusts them
        let report = try AppBackup.run(layout: layout, sources: try layout.sources(), repository: repository, options: AppBackup.Options())
        #expect(report.sources.map(\.status) == [.ok, .ok, .ok], "\(report.sources.map(\.reason))")
        let first = try #require(report.sources.first { $0.source == "tenant-001" })
        #expect(first.files == 3 && first.uploads == "s3:\(endpoint)/\(bucket)/tenants/1/app")
        let entry = try #require(try repository.catalog.entries().last { $0.app?.tenantName == "tenant-001" })
        let manifest = try repository.catalog.detail(entry.id).manifest
        #expect(
            Dictionary(uniqueKeysWithValues: manifest.files.map { (ArchiveFormat.fileRelativePath(entry: $0.path) ?? "?", $0.sha256) })
                == original)
        #expect(manifest.files.allSatisfy { $0.mode == 0o644 && ($0.modified ?? 0) > 0 })
        #expect(try Verifier.verify(.catalogued(entry, repository: repository)).ok)

        // The next backup reads no unchanged object again: every file's segments are the previous snapshot's.
        _ = try AppBackup.run(layout: layout, sources: try layout.sources(), repository: repository, options: AppBackup.Options())
        let second = try #require(try repository.catalog.entries().last { $0.app?.tenantName == "tenant-001" })
        let files = try #require(try SegmentedSnapshot.read(repository.path(second.archive)).segments?.files)
        #expect(files.newSegments == 0 && files.parts.count == 3)

        // One object deleted, one changed: the plan says so, the restore puts both back in the bucket.
        try tenant.remove("uploads/collections/media/big file é+1.bin")
        let changed = try #require(original.keys.first { $0 != "uploads/collections/media/big file é+1.bin" })
        try Self.put(tenant, changed, Array("not the upload".utf8))
        let selected = SelectedSnapshot.catalogued(second, repository: repository)
        let target = try TenantRestore.target(app: app, header: try repository.catalog.detail(second.id).header)
        #expect(target.uploads?.root == "s3:\(endpoint)/\(bucket)/tenants/1/app")
        var options = RestoreOptions()
        options.conflict = .overwrite
        let secondManifest = try repository.catalog.detail(second.id).manifest
        let plan = try TenantRestore.plan(selected, into: target, manifest: secondManifest, options: options, repository: repository)
        #expect(plan.files?.count(.add) == 1 && plan.files?.count(.replace) == 1 && plan.files?.count(.unchanged) == 1)
        // Staged and discarded (a failed database restore): the bucket is as it was, nothing staged is left.
        let filesPlan = try #require(plan.files)
        let discarded = try FilesRestore.stage(filesPlan, manifest: secondManifest, reader: try SnapshotReader(selected))
        #expect(try Self.contents(try Self.disk(endpoint, bucket, prefix: "tenants/1/app"), ".velo-restore-").count == 2)
        discarded.discard()
        #expect(try Self.contents(tenant, ".velo-restore-").isEmpty)
        #expect(try Self.contents(tenant, "uploads/")[changed] == SHA256Digest.of(Array("not the upload".utf8)))
        _ = try TenantRestore.run(selected, into: target, manifest: secondManifest, options: options, repository: repository)
        #expect(try Self.contents(tenant, "uploads/") == original)
        #expect(try Self.contents(tenant, ".velo-restore-").isEmpty)
        // Put back with the media type Laravel's disk gives it.
        let head = try tenant.client.send(.HEAD, key: tenant.location.key(changed))
        #expect(head.header("Content-Type") == UploadMediaType.of(changed), "\(changed)")
        // The safety snapshot taken before the import holds the tenant's files as they were.
        let safety = try #require(try repository.catalog.entries().last { $0.tags.contains("pre-restore") })
        #expect(safety.files == 2)
        let kept = try repository.catalog.detail(safety.id).manifest.files.first {
            $0.path == ArchiveFormat.fileEntryPath(relative: changed)
        }
        #expect(kept?.sha256 == SHA256Digest.of(Array("not the upload".utf8)))
    }

    @Test func aTenantsOwnBucketIsReadWithTheSecretLaravelEncrypted() throws {
        guard let server = try S3StorageTests.server() else { return }
        let (app, _, endpoint) = try Self.appOnBucket(server, tenants: 1)
        let (own, _) = try Self.bucket(server)
        let disk = try Self.disk(endpoint, own, prefix: "")
        try Self.put(disk, "uploads/collections/posts/own.txt", Array("on the tenant's own bucket".utf8))
        try Self.put(disk, "elsewhere/not-an-upload.txt", Array("x".utf8))
        // The app's key and the tenant's settings as Veloquent writes them (`Crypt::encryptString`, JSON payloads).
        let env = try String(contentsOfFile: app + "/.env", encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("APP_KEY=") }.joined(separator: "\n")
        try (env + "\nAPP_KEY=\(LaravelEncrypterTests.appKey)\n").write(toFile: app + "/.env", atomically: true, encoding: .utf8)
        let tenantDatabase = try #require(try AppLayout.load(app).sources().first { $0.kind == .tenant }?.databasePath)
        let db = try Database(path: tenantDatabase, mode: .readWrite)
        for (name, value) in [
            ("storage_driver", "s3"), ("s3_key", LaravelEncrypterTests.encryptedAccessKey),
            ("s3_secret", LaravelEncrypterTests.encryptedSecretKey), ("s3_bucket", own), ("s3_endpoint", endpoint), ("s3_region", ""),
        ] {
            try db.execute("DELETE FROM settings WHERE \"group\" = 'storage' AND name = ?", [.text(name)])
            try db.execute(
                "INSERT INTO settings (\"group\", name, locked, payload) VALUES ('storage', ?, 0, ?)",
                [.text(name), .text(JSONWriter.string(.string(value)))])
        }
        let layout = try AppLayout.load(app)
        let repository = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        let report = try AppBackup.run(
            layout: layout, sources: try layout.sources(selecting: ["tenant-001"]), repository: repository, options: AppBackup.Options())
        let outcome = report.sources[0]
        #expect(outcome.status == .ok && outcome.files == 1 && outcome.uploads == "s3:\(endpoint)/\(own)", "\(outcome)")
        let entry = try #require(try repository.catalog.entries().last)
        #expect(try repository.catalog.detail(entry.id).manifest.files.map(\.path) == ["files/uploads/collections/posts/own.txt"])
        // A restore puts it back on that bucket.
        try disk.remove("uploads/collections/posts/own.txt")
        let selected = SelectedSnapshot.catalogued(entry, repository: repository)
        let target = try TenantRestore.target(app: app, header: try repository.catalog.detail(entry.id).header)
        #expect(target.uploads?.root == "s3:\(endpoint)/\(own)")
        _ = try TenantRestore.run(
            selected, into: target, manifest: try repository.catalog.detail(entry.id).manifest, options: RestoreOptions(),
            repository: repository)
        #expect(try Self.contents(disk, "uploads/").keys.sorted() == ["uploads/collections/posts/own.txt"])
        // The snapshot's storage settings and those of the database being replaced must agree on the disk.
        let header = try repository.catalog.detail(entry.id).header
        #expect(try TenantRestore.target(app: app, header: header, snapshot: selected).uploads?.root == "s3:\(endpoint)/\(own)")
        let driver = "UPDATE settings SET payload = ? WHERE \"group\" = 'storage' AND name = 'storage_driver'"
        try db.execute(driver, [.text("\"local\"")])
        #expect {
            try TenantRestore.target(app: app, header: header, snapshot: selected)
        } throws: { "\($0)".contains("by the snapshot's storage settings; velo does not choose") }
        try db.execute(driver, [.text("\"s3\"")])
        // Credentials that do not open the bucket fail the tenant's backup, naming it; the others go on.
        try db.execute("UPDATE settings SET payload = '\"wrong-key\"' WHERE \"group\" = 'storage' AND name = 's3_key'")
        let refused = try AppBackup.run(layout: layout, sources: try layout.sources(), repository: repository, options: AppBackup.Options())
        #expect(refused.sources.map(\.status) == [.ok, .failed])
        #expect(refused.sources[1].reason?.contains(own) == true, "\(String(describing: refused.sources[1].reason))")
    }

    @Test func anObjectReplacedWhileItIsReadFailsTheReadAndALargeCopyGoesInParts() throws {
        guard let server = try S3StorageTests.server() else { return }
        let (bucket, endpoint) = try Self.bucket(server)
        let disk = try Self.disk(endpoint, bucket, prefix: "some/prefix")
        let bytes = (0..<(11 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Self.put(disk, "uploads/a.bin", bytes)
        var listed: [S3Disk.Object] = []
        try disk.list("uploads/") { listed.append($0) }
        let object = try #require(listed.first)
        #expect(listed.count == 1 && object.size == Int64(bytes.count) && object.relative == "uploads/a.bin")
        // Copied in parts of 5 MiB (S3's smallest) when above the single-copy limit.
        try disk.copy("uploads/a.bin", to: "uploads/b.bin", size: object.size, singleLimit: 1 << 20, partBytes: 5 << 20)
        #expect(try Self.contents(disk, "uploads/b.bin")["uploads/b.bin"] == SHA256Digest.of(bytes))
        // Replaced after it was listed: the read asks for the listed version and fails, naming the object.
        try Self.put(disk, "uploads/a.bin", Array("replaced".utf8))
        #expect {
            _ = try disk.read(object, chunkBytes: 1 << 20) { _ in }
        } throws: { "\($0)".contains("uploads/a.bin: changed while it was read") }
        // Deleted after it was listed: nothing to read, no error.
        try disk.remove("uploads/a.bin")
        #expect(try disk.read(object, chunkBytes: 1 << 20) { _ in } == false)
    }
}

/// The storage settings of a tenant database made by an older Veloquent (../shared/fixtures): read as they are,
/// the local driver means the app's disk; the same rows set to a bucket of its own (in a copy) name it.
@Suite struct TenantStorageSettingsTests {
    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage))
    func theOlderFixturesSettingsAreReadAndABucketOfItsOwnIsFound() throws {
        let app = Fixtures.temporaryDirectory().path
        try "APP_KEY=\(LaravelEncrypterTests.appKey)\nAWS_USE_PATH_STYLE_ENDPOINT=true\n".write(
            toFile: app + "/.env", atomically: true, encoding: .utf8)
        let layout = try AppLayout.load(app)
        #expect(try TenantStorageSettings.ownBucket(database: Fixtures.tenantTest, layout: layout, busyTimeout: .seconds(1)) == nil)
        let copy = app + "/tenant.sqlite"
        try FileManager.default.copyItem(atPath: Fixtures.tenantTest, toPath: copy)
        let db = try Database(path: copy, mode: .readWrite)
        for (name, value) in [
            ("storage_driver", "s3"), ("s3_key", LaravelEncrypterTests.encryptedAccessKey), ("s3_secret", "plain-secret"),
            ("s3_bucket", "tenant-media"), ("s3_endpoint", "https://minio.example.net:9000"), ("s3_region", "eu-central-1"),
        ] {
            try db.execute(
                "UPDATE settings SET payload = ? WHERE \"group\" = 'storage' AND name = ?",
                [.text(JSONWriter.string(.string(value))), .text(name)])
        }
        let bucket = try #require(try TenantStorageSettings.ownBucket(database: copy, layout: layout, busyTimeout: .seconds(1)))
        #expect(bucket.root == "s3:https://minio.example.net:9000/tenant-media")
        #expect(bucket.location.pathStyle && bucket.location.region == "eu-central-1" && bucket.location.prefix.isEmpty)
        // The key was encrypted, the secret saved before encryption: each is used as Veloquent reads it.
        #expect(bucket.credentials == .init(accessKeyID: "veloaccess", secretAccessKey: "plain-secret"))
    }
}

/// Laravel's `Crypt::encryptString` payloads, made with Python's `cryptography` as Laravel's Encrypter makes them
/// (AES-256-CBC with an HMAC of `iv . value`; AES-256-GCM with a tag; JSON with `/` escaped as PHP writes it).
@Suite struct LaravelEncrypterTests {
    static let appKey = "base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    /// "veloaccess"
    static let encryptedAccessKey =
        "eyJpdiI6IkJ3Y0hCd2NIQndjSEJ3Y0hCd2NIQnc9PSIsInZhbHVlIjoidUJQT3FCc09NWndySE04SXRaVEwwdz09IiwibWFjIjoiYTUyZmRlZmM0ZWRlMmZlYzE5MzVlOGQ2N2FjZTZlODNlM2IwNTAwOTU5Y2U4MmFlNjUzMzhlNWQzYjQ1ZGVlZCIsInRhZyI6IiJ9"
    /// "velo-secret-key"
    static let encryptedSecretKey =
        "eyJpdiI6IlpHVm1aMmhwYW10c2JXNXZjSEZ5Y3c9PSIsInZhbHVlIjoiZ3pnaVNjbGRIY0V0SlVGaWFnVDR6Zz09IiwibWFjIjoiOGI0N2FkYmRlZjAxODQzODA4ZjUzNWQ3NTFiYTUzY2NmOTdiZDVlNzI1ZjQ5NDcwZDg0OWFhZjAxNGUzMTUyMSIsInRhZyI6IiJ9"
    /// "gcm-secret", AES-256-GCM.
    static let encryptedWithGCM =
        "eyJpdiI6IkNRa0pDUWtKQ1FrSkNRa0oiLCJ2YWx1ZSI6IjFIdGxGdlQ2SU5hMGZRPT0iLCJtYWMiOiIiLCJ0YWciOiJpSVUzQ2hmQ29yMThZWmhNQm9QcFlBPT0ifQ=="

    @Test func decryptsWhatLaravelEncryptedAndNothingElse() throws {
        let encrypter = try #require(LaravelEncrypter(environment: AppEnvironment(values: ["APP_KEY": Self.appKey])))
        #expect(encrypter.decryptString(Self.encryptedAccessKey) == "veloaccess")
        #expect(encrypter.decryptString(Self.encryptedSecretKey) == "velo-secret-key")
        #expect(encrypter.decryptString(Self.encryptedWithGCM) == "gcm-secret")
        // A plain value saved before encryption is not a payload (Veloquent then uses it as it is).
        #expect(encrypter.decryptString("plain-key") == nil)
        // Another key, or a MAC that does not match, opens nothing; a previous key still does.
        let other = try #require(
            LaravelEncrypter(
                environment: AppEnvironment(values: ["APP_KEY": "base64:" + Data(repeating: 1, count: 32).base64EncodedString()])))
        #expect(other.decryptString(Self.encryptedAccessKey) == nil)
        let rotated = try #require(
            LaravelEncrypter(
                environment: AppEnvironment(values: [
                    "APP_KEY": "base64:" + Data(repeating: 1, count: 32).base64EncodedString(), "APP_PREVIOUS_KEYS": Self.appKey,
                ])))
        #expect(rotated.decryptString(Self.encryptedAccessKey) == "veloaccess")
        var payload = try JSONParser.parse(Array(Data(base64Encoded: Self.encryptedAccessKey)!))
        if case .object(var pairs) = payload {
            pairs = pairs.map { $0.0 == "mac" ? ($0.0, .string(String(repeating: "0", count: 64))) : $0 }
            payload = .object(pairs)
        }
        #expect(encrypter.decryptString(Data(JSONWriter.string(payload).utf8).base64EncodedString()) == nil)
        #expect(LaravelEncrypter(environment: AppEnvironment(values: [:])) == nil)
    }
}
