import Foundation
import VeloFormat

/// A tenant's storage disk as velo reads and writes its uploads: a folder on this machine
/// (`storage/tenants/{id}/app`: `LocalUploads`) or a prefix of an S3 bucket (the app's bucket under
/// `tenants/{id}/app`, or the tenant's own: `BucketUploads`). Paths are relative to the disk's root, as
/// Veloquent's `Storage::disk('tenant')` names them (`uploads/collections/posts/….png`). A backup walks and reads
/// it; a restore plans against it, then stages files aside and puts them in place only once the database
/// restore succeeded (`FilesRestore`).
package protocol UploadsDisk: Sendable {
    /// The root as reports and messages name it: a folder's path, or `s3:…` with the prefix.
    var root: String { get }

    /// The regular files under `folders` (relative folders such as `uploads`), in `UploadedFiles.walkKey`
    /// order, and what was left out, each with why.
    func walk(_ folders: [String]) throws -> (files: [UploadedFiles.File], skipped: [String])

    /// Opens a walked file to read it; nil when it was deleted since the walk.
    func open(_ file: UploadedFiles.File) throws -> (any UploadReader)?

    /// What the disk holds now at each of `relatives` (a bucket lists the folders they are in, a request per
    /// 1,000 objects, rather than asking for each).
    /// - Throws: `.input` when what is there is not a file, or the way to it leaves the disk (a link).
    func targets(_ relatives: [String]) throws -> [UploadTarget]

    /// The SHA-256 of the file at `relative` (one `targets` found).
    func sha256(_ relative: String) throws -> String

    /// Begins writing restored files aside from their targets.
    func stager() throws -> any UploadStager
}

/// What a disk holds at a path a restore writes.
package enum UploadTarget: Equatable, Sendable {
    case missing
    /// A file of this many bytes.
    case file(size: Int64)
}

/// One uploaded file open for reading.
package protocol UploadReader: AnyObject {
    /// Where it is, in messages.
    var location: String { get }
    var size: Int64 { get }
    /// Nanoseconds since the epoch.
    var modified: Int64 { get }
    /// Its permission bits (the manifest records them).
    var mode: Int? { get }
    /// Streams exactly `size` bytes to `body` in chunks of `chunkBytes` (the last one shorter). Returns false
    /// when the file turns out to have been deleted since the walk, before any byte was read (an object opened
    /// without a request first).
    /// - Throws: `.io` naming the file when it changed while it was read.
    func read(chunkBytes: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool
}

/// Restored files written aside from their targets, then put in place together (`commit`) or dropped
/// (`discard`), so that a restore whose database part fails leaves the disk as it was.
package protocol UploadStager: AnyObject {
    /// Starts the file that goes to `relative`.
    func begin(_ relative: String) throws
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Ends the file begun last, once its bytes are checked: its mode and modification time where the disk
    /// keeps them.
    func end(mode: Int?, modified: Int64?) throws
    /// Drops the file begun last after a failure.
    func abandon()
    /// Puts every file ended in place.
    func commit() throws
    /// Drops every file staged and not committed.
    func discard()
}
