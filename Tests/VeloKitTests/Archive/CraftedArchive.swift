import CArchive
import Foundation

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Builds deliberately odd archives for tests: any entry type, any path, any order, raw bytes.
struct CraftedArchive {
    enum Kind { case file, symlink(String), directory, characterDevice, hardlink(String) }

    struct Entry {
        var path: String
        var bytes: [UInt8] = []
        var kind: Kind = .file
    }

    var entries: [Entry] = []

    mutating func add(_ path: String, _ bytes: [UInt8], kind: Kind = .file) { entries.append(Entry(path: path, bytes: bytes, kind: kind)) }
    mutating func add(_ path: String, json: JSONValue) { add(path, Array(JSONWriter.string(json).utf8)) }
    mutating func add(_ path: String, text: String) { add(path, Array(text.utf8)) }

    /// The tar stream, uncompressed.
    func tar() -> [UInt8] {
        let archive = archive_write_new()!
        archive_write_set_format_pax_restricted(archive)
        var used = 0
        let capacity = entries.reduce(0) { $0 + $1.bytes.count } * 2 + 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        defer { buffer.deallocate() }
        archive_write_open_memory(archive, buffer, capacity, &used)
        for e in entries {
            let entry = archive_entry_new()!
            archive_entry_set_pathname(entry, e.path)
            archive_entry_set_perm(entry, 0o600)
            switch e.kind {
            case .file: archive_entry_set_filetype(entry, ArchiveFileType.regular); archive_entry_set_size(entry, la_int64_t(e.bytes.count))
            case .symlink(let target): archive_entry_set_filetype(entry, ArchiveFileType.symlink); archive_entry_set_symlink(entry, target)
            case .directory: archive_entry_set_filetype(entry, ArchiveFileType.directory)
            case .characterDevice: archive_entry_set_filetype(entry, ArchiveFileType.characterDevice)
            case .hardlink(let target):
                archive_entry_set_filetype(entry, ArchiveFileType.regular); archive_entry_set_hardlink(entry, target)
            }
            archive_write_header(archive, entry)
            if case .file = e.kind, !e.bytes.isEmpty {
                _ = e.bytes.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
            }
            archive_entry_free(entry)
        }
        archive_write_close(archive)
        archive_write_free(archive)
        return Array(UnsafeRawBufferPointer(start: buffer, count: used))
    }

    /// Writes the tar stream compressed with zstd to `path`.
    func write(to path: String) throws {
        try Self.compress(tar(), to: path)
    }

    static func compress(_ bytes: [UInt8], to path: String) throws {
        var out: [UInt8] = []
        let compressor = try ZstdCompressor(level: 3, workers: 0) { out.append(contentsOf: $0) }
        try bytes.withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        try Data(out).write(to: URL(fileURLWithPath: path))
    }

    /// The entries of a real archive, to rebuild it with changes.
    static func entries(of path: String) throws -> [Entry] {
        let reader = try ArchiveReader(path: path)
        var result: [Entry] = []
        while let header = try reader.nextEntry() { result.append(Entry(path: header.path, bytes: try reader.readAll(limit: 1 << 30))) }
        return result
    }
}
