import Foundation
import VeloFormat

/// S3's two listings, page by page (a request per 1,000): the objects under a prefix (`ListObjectsV2`) and the
/// multipart uploads in progress under one (`ListMultipartUploads`). Used by a repository's storage and by a
/// tenant's uploads disk alike.
extension S3Client {
    /// One object of a listing.
    struct ListedObject {
        var key: String
        /// nil when the server gave none that reads as a number.
        var size: Int64?
        /// `LastModified` as given (`2026-12-06T10:00:00.000Z`).
        var lastModified: String?
        /// nil when the server's page does not give every object one.
        var etag: String?
    }

    /// Every object whose key starts with `prefix`, in key order; with `shallow`, only those not in a deeper
    /// folder (`delimiter=/`).
    func listObjects(prefix: String, shallow: Bool = false, _ body: (ListedObject) throws -> Void) throws {
        var token: String?
        repeat {
            var query: [(String, String)] = [("list-type", "2"), ("prefix", prefix)]
            if shallow { query.append(("delimiter", "/")) }
            if let token { query.append(("continuation-token", token)) }
            let response = try send(.GET, key: nil, query: query)
            let values = try XMLValues.readWhole(
                response.body, elements: ["Key", "Size", "LastModified", "ETag", "NextContinuationToken", "IsTruncated"],
                request: "\(location.description): listing \(prefix)")
            let keys = values["Key"] ?? [], sizes = values["Size"] ?? [], times = values["LastModified"] ?? []
            let etags = values["ETag"] ?? []
            for (i, key) in keys.enumerated() where key.hasPrefix(prefix) {
                try body(
                    ListedObject(
                        key: key, size: i < sizes.count ? Int64(sizes[i]) : nil, lastModified: i < times.count ? times[i] : nil,
                        etag: etags.count == keys.count ? etags[i] : nil))
            }
            token = values["IsTruncated"]?.first == "true" ? values["NextContinuationToken"]?.first : nil
        } while token != nil
    }

    /// One multipart upload in progress.
    struct ListedUpload {
        var key: String
        var id: String
        /// `Initiated` as given.
        var initiated: String
    }

    /// Every multipart upload in progress whose key starts with `prefix`.
    func listUploads(prefix: String, _ body: (ListedUpload) throws -> Void) throws {
        var markers: [(String, String)] = []
        repeat {
            let response = try send(.GET, key: nil, query: [("uploads", ""), ("prefix", prefix)] + markers)
            let values = try XMLValues.readWhole(
                response.body, elements: ["Key", "UploadId", "Initiated", "IsTruncated", "NextKeyMarker", "NextUploadIdMarker"],
                request: "\(location.description): listing the uploads in progress under \(prefix)")
            let keys = values["Key"] ?? [], ids = values["UploadId"] ?? [], started = values["Initiated"] ?? []
            for (i, key) in keys.enumerated() where i < ids.count && i < started.count {
                try body(ListedUpload(key: key, id: ids[i], initiated: started[i]))
            }
            markers = []
            if values["IsTruncated"]?.first == "true", let key = values["NextKeyMarker"]?.first {
                markers = [("key-marker", key), ("upload-id-marker", values["NextUploadIdMarker"]?.first ?? "")]
            }
        } while !markers.isEmpty
    }
}
