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
