import CArchive
import Foundation

/// Reads a snapshot archive entry by entry, streaming from an `ArchiveInput` (a file, a stored object): zstd
/// decompression feeds libarchive's tar reader, and the SHA-256 of the compressed bytes is computed on the way. Entries that are not plain files with safe
/// relative paths are reported, never extracted.
package final class ArchiveReader: EntryReading {
    /// The header of one entry.
    package struct EntryHeader: Sendable, Equatable {
        package var path: String
        package var size: Int64
        /// `file`, `directory`, `symlink`, `hardlink`, `device`, `fifo`, `socket`.
        package var kind: String
        package var linkTarget: String?

        package init(path: String, size: Int64, kind: String, linkTarget: String?) {
            self.path = path
            self.size = size
            self.kind = kind
            self.linkTarget = linkTarget
        }

        /// Why the entry is unsafe to have in an archive, or nil when it is a plain file with a safe path.
        package var unsafeReason: String? {
            if kind != "file" { return "is a \(kind), not a regular file" }
            if path.hasPrefix("/") { return "has an absolute path" }
            if path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." }) {
                return "has a '..' path component"
            }
            if path.isEmpty { return "has an empty path" }
            return nil
        }
    }

    package let path: String
    private let archive: OpaquePointer
    private let source: Source
    private var currentEntry: String?
    /// True once the tar stream's end marker was read.
    private var reachedEnd = false

    /// Reads the input, counts and hashes its bytes, and decompresses them for libarchive.
    final class Source {
        let input: any ArchiveInput
        @exclusivity(unchecked) var digest = SHA256Digest()
        var decompressor: ZstdDecompressor!
        var pipeline: DecompressionPipeline?
        var error: Error?
        /// Decompressed bytes handed to libarchive so far, and the last block (still valid after the tar end).
        var delivered: Int64 = 0
        var lastBlock = UnsafeRawBufferPointer(start: nil, count: 0)
        var lastBlockStart: Int64 = 0

        init(input: any ArchiveInput) { self.input = input }

        func readFile(_ into: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = try input.read(into: into)
            digest.update(UnsafeRawBufferPointer(rebasing: into[0..<n]))
            return n
        }
    }

    package convenience init(path: String) throws {
        try self.init(input: try ArchiveFileInput(path: path))
    }

    package init(input: any ArchiveInput) throws {
        path = input.description
        source = Source(input: input)
        guard let archive = archive_read_new() else {
            throw VeloError("\(input.description): libarchive cannot allocate a reader")
        }
        self.archive = archive
        source.decompressor = try ZstdDecompressor { [unowned source] buffer in try source.readFile(buffer) }
        // Decompression (and the file's checksum) run on a thread of their own, ahead of the tar reader.
        source.pipeline = DecompressionPipeline(decompressor: source.decompressor)
        archive_read_support_format_tar(archive)
        let context = Unmanaged.passUnretained(source).toOpaque()
        let rc = archive_read_open(
            archive, context, nil,
            { _, context, bufferOut in
                let source = Unmanaged<Source>.fromOpaque(context!).takeUnretainedValue()
                do {
                    let block = try source.pipeline!.next()
                    source.lastBlock = block
                    source.lastBlockStart = source.delivered
                    source.delivered += Int64(block.count)
                    bufferOut?.pointee = block.baseAddress
                    return la_ssize_t(block.count)
                } catch {
                    source.error = error
                    return -1
                }
            }, nil)
        if rc < ARCHIVE_WARN {
            throw failure(entry: nil)  // deinit frees the reader (and the input)
        }
    }

    deinit {
        source.pipeline?.stop()
        archive_read_free(archive)
    }

    /// The next entry's header, or nil at the end of the archive.
    package func nextEntry() throws -> EntryHeader? {
        var entry: OpaquePointer?
        let rc = archive_read_next_header(archive, &entry)
        if rc == ARCHIVE_EOF { currentEntry = nil; reachedEnd = true; return nil }
        if rc < ARCHIVE_WARN || entry == nil { throw failure(entry: currentEntry.map { "after \($0)" }) }
        let name =
            archive_entry_pathname_utf8(entry).map { String(cString: $0) }
            ?? archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
        currentEntry = name
        let type = UInt32(archive_entry_filetype(entry))
        let kind: String
        switch type {
        case ArchiveFileType.regular: kind = archive_entry_hardlink(entry) != nil ? "hardlink" : "file"
        case ArchiveFileType.directory: kind = "directory"
        case ArchiveFileType.symlink: kind = "symlink"
        case ArchiveFileType.characterDevice, ArchiveFileType.blockDevice: kind = "device"
        case ArchiveFileType.fifo: kind = "fifo"
        case ArchiveFileType.socket: kind = "socket"
        default: kind = archive_entry_hardlink(entry) != nil ? "hardlink" : "unknown"
        }
        let link = archive_entry_symlink(entry).map { String(cString: $0) } ?? archive_entry_hardlink(entry).map { String(cString: $0) }
        return EntryHeader(path: name, size: Int64(archive_entry_size(entry)), kind: kind, linkTarget: link)
    }

    /// Reads the current entry's data; 0 at its end.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
        if n < 0 { throw failure(entry: currentEntry) }
        return n
    }

    /// The entry being read, for messages.
    package var entryName: String? { currentEntry }

    /// Reads what is left of the file so that `archiveSHA256` covers all of it, after the last entry (an entry
    /// still to come is damage). Bytes after the tar stream's end marker are damage unless they are a tar writer's
    /// zero padding (`ArchiveFormat.maxTrailingPadding`): a valid extra zstd frame must not hide data.
    package func finishReading() throws -> (bytes: Int64, sha256: String) {
        if !reachedEnd, let extra = try nextEntry() {
            throw ArchiveDamage(
                path: path, entry: extra.path, reason: "comes after \(ArchiveFormat.manifestPath), which must be the last entry")
        }
        let consumed = Int64(archive_filter_bytes(archive, 0))
        var trailing = source.delivered - consumed
        var dataAfterEnd = false
        let from = Int(max(0, consumed - source.lastBlockStart))
        if from < source.lastBlock.count { dataAfterEnd = !Self.allZero(UnsafeRawBufferPointer(rebasing: source.lastBlock[from...])) }
        while !dataAfterEnd && trailing <= ArchiveFormat.maxTrailingPadding {
            let block = try source.pipeline!.next()
            if block.count == 0 { break }
            trailing += Int64(block.count)
            dataAfterEnd = !Self.allZero(block)
        }
        if dataAfterEnd || trailing > ArchiveFormat.maxTrailingPadding {
            throw ArchiveDamage(
                path: path, entry: nil,
                reason:
                    "holds \(trailing > ArchiveFormat.maxTrailingPadding ? "more than \(ArchiveFormat.maxTrailingPadding)" : "\(trailing)") bytes of data after the end of the tar stream"
            )
        }
        source.pipeline!.stop()
        return (source.digest.byteCount, source.digest.hex())
    }

    static func allZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes where byte != 0 { return false }
        return true
    }

    private func failure(entry: String?) -> Error {
        if let error = source.error {
            return ArchiveDamage(path: path, entry: entry, reason: "\(error)")
        }
        var message = archive_error_string(archive).map { String(cString: $0) } ?? "unreadable archive"
        if message.contains("Unrecognized archive format") { message = "not a tar archive inside the zstd stream" }
        if message.contains("Truncated") || message.contains("truncated") { message = "truncated: \(message)" }
        return ArchiveDamage(path: path, entry: entry, reason: message)
    }
}
