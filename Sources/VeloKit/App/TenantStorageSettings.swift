import Foundation
import VeloFormat
import VeloStorage

/// A tenant's own S3 storage, from its `settings` table (group `storage`, each payload JSON-encoded; the key and
/// the secret encrypted with the app's key by `EncryptedSettingsCast`, or plain when saved before that).
/// Veloquent uses it instead of the app's disk when the driver is `s3` and the key, the secret and the bucket
/// are set (`TenantStorageResolver::hasOwnS3`): the uploads are then at the root of that bucket, at the
/// settings' endpoint (AWS when empty) and region, path-style when the app's `AWS_USE_PATH_STYLE_ENDPOINT` says so.
package enum TenantStorageSettings {
    /// The tenant's own bucket as an uploads disk, or nil when it uses the app's disk.
    /// - Throws: `.input` naming the database and the setting when the settings cannot be used (an endpoint
    ///   that is not a URL).
    /// A database whose last write was interrupted (its rollback journal hot) is opened read-write, which rolls
    /// the write back as Veloquent's next request would: a restore into it does the same a moment later.
    package static func ownBucket(database path: String, layout: AppLayout, busyTimeout: Duration) throws -> BucketUploads? {
        func read(_ mode: Database.OpenMode) throws -> [String: String]? {
            let db = try Database(path: path, mode: mode, busyTimeout: busyTimeout)
            let schema = try SQLiteSchema.read(from: db)
            guard schema.table("settings") != nil else { return nil }
            var values: [String: String] = [:]
            try db.prepare("SELECT \"name\", \"payload\" FROM \"settings\" WHERE \"group\" = 'storage'").forEachRow { row in
                let payload = row.optionalString(1) ?? ""
                values[row.optionalString(0) ?? ""] = (try? JSONParser.parse(Array(payload.utf8)))?.stringValue ?? ""
            }
            return values
        }
        let found: [String: String]?
        do { found = try read(.readOnly) } catch let error as SQLiteError where error.isHotJournal { found = try read(.readWrite) }
        guard let values = found else { return nil }
        return try ownBucket(values, source: path, layout: layout)
    }

    /// The bucket of its own that a snapshot's `settings` rows name (what the tenant's database says once the
    /// snapshot is restored into a new one), or nil.
    package static func ownBucket(snapshot: SelectedSnapshot, layout: AppLayout) throws -> BucketUploads? {
        let reader = try SnapshotReader(snapshot)
        guard reader.header.tables.contains(where: { $0.name == "settings" }) else { return nil }
        var values: [String: String] = [:]
        _ = try reader.scan(tables: ["settings"], stopAfterTables: true) { table, line in
            let row = Dictionary(
                zip(table.columns, try RecordDecoder.decode(line)).map { ($0, $1.sqliteValue.stringValue ?? "") },
                uniquingKeysWith: { a, _ in a })
            if row["group"] == "storage", let name = row["name"] {
                values[name] = (try? JSONParser.parse(Array((row["payload"] ?? "").utf8)))?.stringValue ?? ""
            }
            return true
        }
        return try ownBucket(values, source: snapshot.archiveLocation, layout: layout)
    }

    /// The bucket the `storage` settings `values` (each payload decoded) name, or nil.
    static func ownBucket(_ values: [String: String], source path: String, layout: AppLayout) throws -> BucketUploads? {
        guard values["storage_driver"] == "s3" else { return nil }
        let encrypter = LaravelEncrypter(environment: layout.environment)
        func secret(_ name: String) -> String {
            let stored = values[name] ?? ""
            return encrypter?.decryptString(stored) ?? stored
        }
        let key = secret("s3_key"), secretKey = secret("s3_secret"), bucket = values["s3_bucket"] ?? ""
        guard !key.isEmpty, !secretKey.isEmpty, !bucket.isEmpty else { return nil }
        let location = try AppLayout.bucketLocation(
            endpoint: values["s3_endpoint"], region: values["s3_region"], bucket: bucket, prefix: "",
            pathStyle: layout.pathStyleEndpoint, settings: ("\(path): the storage settings", "s3_bucket", "s3_endpoint"))
        return BucketUploads(location: location, credentials: .init(accessKeyID: key, secretAccessKey: secretKey))
    }
}
