import CArchive
import Foundation

/// Writes a snapshot archive: a POSIX (pax) tar stream, made by libarchive, compressed by zstd, written to an
/// `ArchiveOutput` (a new file, or an object of a repository's storage) while its SHA-256 is computed. Entries
/// are written whole, so each is bounded in size by the caller (record parts are). `finish` flushes and commits
/// the output; until then it is not a complete archive, and `abort` (or dropping the writer) leaves nothing.
package final class ArchiveWriter {
    /// What was written for one entry.
    package struct Entry: Sendable, Equatable {
        package var path: String
        package var bytes: Int64
        package var sha256: String
    }

    /// The output, for messages.
    package var path: String { sink.output.description }
    /// zstd's job size with several workers. With two workers a backup peaked at 90 MiB with zstd's default
    /// jobs at level 3 (8 MiB), 64 MiB with 4 MiB jobs and 57 MiB with 3 MiB jobs; the archive grows by under
    /// 0.1% (each job starts with a window's overlap from the previous one).
    static let zstdJobBytes: Int32 = 3 << 20
    private let archive: OpaquePointer
    private let sink: Sink
    private var finished = false

    /// Where libarchive's tar bytes go: through zstd into the output, hashing the compressed bytes.
    final class Sink {
        let output: any ArchiveOutput
        @exclusivity(unchecked) var digest = SHA256Digest()
        var compressor: ZstdCompressor!
        /// Set when compression runs on its own thread.
        var pipeline: CompressionPipeline?
        var error: Error?

        /// Takes tar bytes from libarchive.
        func take(_ bytes: UnsafeRawBufferPointer) throws {
            if let pipeline { try pipeline.write(bytes) } else { try compressor.write(bytes) }
        }

        init(output: any ArchiveOutput) { self.output = output }

        func writeFile(_ bytes: UnsafeRawBufferPointer) throws {
            digest.update(bytes)
            try output.write(bytes)
        }
    }

    /// Creates `path` (which must not exist) and starts the tar stream.
    /// - Parameters:
    ///   - level: zstd level (1...19; 3 is zstd's default).
    ///   - workers: 0 compresses on the calling thread; 1 on a thread of its own (`CompressionPipeline`, the
    ///     default); 2 or more on that many zstd workers, in jobs of `zstdJobBytes`, while the calling thread
    ///     keeps reading and encoding.
    /// - Parameter windowLog: a smaller zstd window than the level's, for an archive known to hold little (its
    ///   window buffer is allocated whole).
    package convenience init(path: String, level: Int32 = 3, workers: Int32 = 1, windowLog: Int32? = nil) throws {
        try self.init(output: try ArchiveFileOutput(path: path), level: level, workers: workers, windowLog: windowLog)
    }

    /// Starts the tar stream into `output` (see `init(path:)` for the options).
    package init(output: any ArchiveOutput, level: Int32 = 3, workers: Int32 = 1, windowLog: Int32? = nil) throws {
        sink = Sink(output: output)
        guard let archive = archive_write_new() else {
            output.abort()
            throw VeloError("libarchive: cannot allocate a writer")
        }
        self.archive = archive
        do {
            if workers >= 2 {
                // zstd's own workers, on jobs small enough that memory stays bounded (each worker holds about
                // two jobs of input and output); the calling thread only hands bytes over.
                sink.compressor = try ZstdCompressor(level: level, workers: workers, jobBytes: Self.zstdJobBytes, windowLog: windowLog) {
                    [unowned sink] bytes in
                    try sink.writeFile(bytes)
                }
            } else {
                sink.compressor = try ZstdCompressor(level: level, workers: 0, windowLog: windowLog) { [unowned sink] bytes in
                    try sink.writeFile(bytes)
                }
                if workers == 1 { sink.pipeline = CompressionPipeline(compressor: sink.compressor) }
            }
            try check(archive_write_set_format_pax_restricted(archive))
            try check(archive_write_set_bytes_per_block(archive, 64 * 1024))
            try check(archive_write_set_bytes_in_last_block(archive, 1))
            let context = Unmanaged.passUnretained(sink).toOpaque()
            try check(
                archive_write_open(
                    archive, context, nil,
                    { _, context, buffer, length in
                        let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
                        do {
                            try sink.take(UnsafeRawBufferPointer(start: buffer, count: length))
                            return la_ssize_t(length)
                        } catch {
                            sink.error = error
                            return -1
                        }
                    }, nil))
        } catch {
            abort()  // frees the writer and drops the output; deinit then does nothing
            throw error
        }
    }

    deinit {
        if !finished { abort() }
    }

    /// Adds one regular file entry (mode 0600) with the given bytes.
    @discardableResult
    package func addEntry(path entryPath: String, bytes: UnsafeRawBufferPointer, modificationTime: Int64) throws -> Entry {
        try addEntry(path: entryPath, size: Int64(bytes.count), modificationTime: modificationTime, source: entryPath) { write in
            try write(bytes)
        }
    }

    @discardableResult
    package func addEntry(path entryPath: String, bytes: [UInt8], modificationTime: Int64) throws -> Entry {
        try bytes.withUnsafeBytes { try addEntry(path: entryPath, bytes: $0, modificationTime: modificationTime) }
    }

    /// Adds an entry of exactly `size` bytes (mode 0600) streamed by `produce`, which hands each chunk in turn
    /// to the function it is given (an incremental snapshot's part on its way into a full archive, an uploaded
    /// file: never held whole). Fewer or more bytes than `size` are refused, naming `source`.
    @discardableResult
    package func addEntry(
        path entryPath: String, size: Int64, modificationTime: Int64, source: String,
        _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws -> Entry {
        guard let entry = archive_entry_new() else { throw VeloError("libarchive: cannot allocate an entry") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, entryPath)
        archive_entry_set_size(entry, la_int64_t(size))
        archive_entry_set_filetype(entry, ArchiveFileType.regular)
        archive_entry_set_perm(entry, 0o600)
        archive_entry_set_mtime(entry, time_t(modificationTime), 0)
        try check(archive_write_header(archive, entry))
        var digest = SHA256Digest()
        try produce { bytes in
            guard digest.byteCount + Int64(bytes.count) <= size else {
                throw VeloError("\(source): more than the \(size) bytes expected", kind: .damaged)
            }
            digest.update(bytes)
            var offset = 0
            while offset < bytes.count {
                let written = archive_write_data(archive, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 { try check(Int32(written)) }
                offset += written
            }
        }
        guard digest.byteCount == size else {
            throw VeloError("\(source): \(digest.byteCount) bytes, \(size) expected", kind: .damaged)
        }
        try check(archive_write_finish_entry(archive))
        return Entry(path: entryPath, bytes: size, sha256: digest.hex())
    }

    /// Adds an uploaded file (mode 0600 in the tar; its own mode goes in the manifest), streamed from the open
    /// file `fd` in 256 KiB chunks: exactly `size` bytes, the size the tar header was written with. A file that
    /// is shorter or longer than that when read (it changed meanwhile) is refused, naming `source`.
    @discardableResult
    package func addFile(path entryPath: String, fd: Int32, size: Int64, modificationTime: Int64, source: String) throws -> Entry {
        try addEntry(path: entryPath, size: size, modificationTime: modificationTime, source: source) { write in
            try FileChunks.read(fd, size: size, path: source, write)
        }
    }

    /// Ends the tar stream and the zstd frame and commits the output (a file is fsynced, a stored object
    /// appears under its name). Returns the archive's size and SHA-256.
    package func finish() throws -> (bytes: Int64, sha256: String) {
        do {
            try check(archive_write_close(archive))
            if let pipeline = sink.pipeline { try pipeline.finish() } else { try sink.compressor.finish() }
        } catch {
            abort()
            throw error
        }
        finished = true
        archive_write_free(archive)
        try sink.output.commit()  // drops the output itself when it fails
        return (sink.digest.byteCount, sink.digest.hex())
    }

    /// Stops writing and drops the output.
    package func abort() {
        guard !finished else { return }
        finished = true
        sink.pipeline?.cancel()
        archive_write_free(archive)
        sink.output.abort()
    }

    private func check(_ code: Int32) throws {
        if code >= ARCHIVE_WARN { return }
        if let error = sink.error { throw error }
        let message = archive_error_string(archive).map { String(cString: $0) } ?? "error \(code)"
        throw VeloError("\(path): libarchive: \(message)")
    }
}
