import Foundation

/// The media type an uploaded file is stored with when velo puts it back in a bucket. Laravel's S3 disk
/// (Flysystem, league/mime-type-detection) sets `Content-Type` from the file when it writes an upload, and
/// browsers rely on it (an SVG in `<img>`, a PDF opened inline); the snapshot does not record it, so a restore
/// gives it back from the name's extension as that detector's extension map does for the common upload types.
enum UploadMediaType {
    static let byExtension: [String: String] = [
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
        "svg": "image/svg+xml", "avif": "image/avif", "bmp": "image/bmp", "ico": "image/vnd.microsoft.icon",
        "tif": "image/tiff", "tiff": "image/tiff", "heic": "image/heic", "pdf": "application/pdf", "txt": "text/plain",
        "csv": "text/csv", "json": "application/json", "xml": "application/xml", "html": "text/html", "htm": "text/html",
        "md": "text/markdown", "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime", "mp3": "audio/mpeg",
        "wav": "audio/wav", "ogg": "audio/ogg", "zip": "application/zip", "gz": "application/gzip",
        "doc": "application/msword",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls": "application/vnd.ms-excel", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt": "application/vnd.ms-powerpoint",
        "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ]

    /// The type of the file at `relative`; `application/octet-stream` for an extension not in the map.
    static func of(_ relative: String) -> String {
        byExtension[(relative as NSString).pathExtension.lowercased()] ?? "application/octet-stream"
    }
}
