import Foundation
import VeloFormat
import VeloStorage

/// A tenant's storage disk in an S3 bucket: the app's bucket under `tenants/{id}/app` (`FILESYSTEM_DISK=s3`),
/// or the root of the tenant's own bucket (its storage settings), as Veloquent's `SwitchTenantFilesystemTask`
/// configures Laravel's `tenant` disk.
/// - The walk is one listing of each upload folder (a request per 1,000 objects); an object's version is its
///   ETag, and it is read in ranged GETs that ask for that version only, so a file replaced during the backup
///   fails it rather than mixing two versions. S3 keeps no mode (files are recorded 0644, as Laravel's local
///   disk makes a public file); the modification time is `LastModified`.
/// - A restore uploads the files under `.velo-restore-<nonce>/` beside `uploads/` (never under it, so no walk
///   takes them for uploads), and on commit copies each into place inside the bucket and removes the staged
///   copies; a discarded restore removes them. What a killed restore left there is removed by the next
///   restore to the disk once it is 6 hours old.
package struct BucketUploads: UploadsDisk {
    package let location: S3Location
    /// The app's (or the tenant's) keys; nil to use velo's own (`AWS_*` of its environment, `~/.aws`).
    package let credentials: S3RequestSigner.Credentials?
    private let connection: Connection
    /// Staged files older than this are a killed restore's.
    static let leftoverAge: TimeInterval = 6 * 3600

    package init(location: S3Location, credentials: S3RequestSigner.Credentials?) {
        self.location = location
        self.credentials = credentials
        connection = Connection()
    }

    package var root: String { location.description }

    /// The disk, opened at first use (so that missing credentials fail the source that needs them, not the
    /// listing of an app), and what the last `targets` listed.
    private final class Connection: @unchecked Sendable {
        let lock = NSLock()
        var disk: S3Disk?
        var listed: [String: S3Disk.Object] = [:]
    }

    func disk() throws -> S3Disk {
        try connection.lock.withLock {
            if let disk = connection.disk { return disk }
            let disk = try S3Disk(location: location, credentials: credentials)
            connection.disk = disk
            return disk
        }
    }

    package func walk(_ folders: [String]) throws -> (files: [UploadedFiles.File], skipped: [String]) {
        let disk = try disk()
        var files: [UploadedFiles.File] = []
        var skipped: [String] = []
        for folder in folders {
            try disk.list(folder + "/") { object in
                guard ArchiveFormat.fileEntryPath(relative: object.relative) != nil else {
                    skipped.append("\(disk.describe(object.relative)): a name velo cannot store safely")
                    return
                }
                files.append(
                    UploadedFiles.File(relative: object.relative, size: object.size, modified: object.modified, version: object.etag))
            }
            try Interruption.check()
        }
        // S3 lists in byte order ("a-b" before "a/c"); the walk's order compares path components.
        files.sort { UploadedFiles.walkKey($0.relative).lexicographicallyPrecedes(UploadedFiles.walkKey($1.relative)) }
        return (files, skipped)
    }

    package func open(_ file: UploadedFiles.File) throws -> (any UploadReader)? {
        Reader(
            disk: try disk(),
            object: S3Disk.Object(relative: file.relative, size: file.size, modified: file.modified ?? 0, etag: file.version ?? ""))
    }

    /// An object as listed, read when asked (no request before).
    final class Reader: UploadReader {
        let disk: S3Disk
        let object: S3Disk.Object
        init(disk: S3Disk, object: S3Disk.Object) {
            self.disk = disk
            self.object = object
        }
        var location: String { disk.describe(object.relative) }
        var size: Int64 { object.size }
        var modified: Int64 { object.modified }
        /// S3 keeps no mode: a file is recorded as Laravel's local disk makes a public one (0644).
        var mode: Int? { 0o644 }
        func read(chunkBytes: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
            try disk.read(object, chunkBytes: chunkBytes, body)
        }
    }

    package func targets(_ relatives: [String]) throws -> [UploadTarget] {
        let disk = try disk()
        var listed: [String: S3Disk.Object] = [:]
        // The folders the files are in, each listed once (and none inside another listed); only the objects the
        // restore writes are kept, so memory follows the snapshot, not the bucket.
        let wanted = Set(relatives)
        var folders: [String] = []
        let parents = relatives.map { relative -> String in
            let parent = (relative as NSString).deletingLastPathComponent
            return parent.isEmpty ? "" : parent + "/"
        }
        for folder in Set(parents).sorted()
        where !folders.contains(where: { folder.hasPrefix($0) }) {
            folders.append(folder)
        }
        for folder in folders { try disk.list(folder) { if wanted.contains($0.relative) { listed[$0.relative] = $0 } } }
        connection.lock.withLock { connection.listed = listed }
        return relatives.map { listed[$0].map { .file(size: $0.size) } ?? .missing }
    }

    package func sha256(_ relative: String) throws -> String {
        guard let object = connection.lock.withLock({ connection.listed[relative] }) else {
            throw VeloError("\(root)/\(relative): not listed before it was compared", kind: .io)
        }
        var digest = SHA256Digest()
        guard try disk().read(object, chunkBytes: 1 << 20, { digest.update($0) }) else {
            throw VeloError("\(root)/\(relative): was deleted while the restore was planned", kind: .io)
        }
        return digest.hex()
    }

    package func stager() throws -> any UploadStager {
        let disk = try disk()
        try disk.removeLeftovers(Stager.folderPrefix, olderThan: Self.leftoverAge)
        // A copy into place in parts, killed midway, leaves its unfinished upload at the target's key.
        try disk.abortUploads("uploads/", olderThan: Self.leftoverAge)
        return Stager(disk: disk)
    }

    /// Files uploaded under `.velo-restore-<nonce>/`, copied into place on commit.
    final class Stager: UploadStager {
        static let folderPrefix = ".velo-restore-"
        let disk: S3Disk
        let folder: String
        private var writer: (any ObjectWriter)?
        private var current: String?
        /// Staged path, final path and size of every file ended.
        private var staged: [(staged: String, target: String, size: Int64)] = []
        private var size: Int64 = 0
        private var committed = false

        init(disk: S3Disk) {
            self.disk = disk
            var random = SystemRandomNumberGenerator()
            folder = Self.folderPrefix + String(format: "%016llx", random.next() as UInt64) + "/"
        }

        deinit {
            abandon()
            discard()
        }

        func begin(_ relative: String) throws {
            current = relative
            size = 0
            writer = disk.create(folder + relative, contentType: UploadMediaType.of(relative))
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            try writer!.write(bytes)
            size += Int64(bytes.count)
        }

        func end(mode: Int?, modified: Int64?) throws {
            guard let writer, let current else { return }
            self.writer = nil
            try writer.commit()
            staged.append((folder + current, current, size))
        }

        func abandon() {
            writer?.abort()
            writer = nil
        }

        /// Copies every staged file into place, then removes the staged copies (also when a copy fails: the
        /// restore is then run again, and stages anew).
        func commit() throws {
            committed = true
            defer { removeStaged() }
            for file in staged {
                try disk.copy(file.staged, to: file.target, size: file.size)
            }
        }

        func discard() {
            guard !committed else { return }
            abandon()
            removeStaged()
        }

        /// Best effort: what cannot be removed now is a leftover the next restore removes.
        private func removeStaged() {
            for file in staged { try? disk.remove(file.staged) }
            staged = []
        }
    }
}
