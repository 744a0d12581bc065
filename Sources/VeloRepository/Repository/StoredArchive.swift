import Foundation
import VeloFormat
import VeloStorage

/// A snapshot archive as an object of the repository's storage, handed to the archive layer as its input or
/// output: the archive readers and writers never learn where a repository is.
package final class StoredArchiveInput: ArchiveInput {
    package let description: String
    private let reader: any StoredObjectReader
    private var offset: Int64 = 0

    package init(_ reader: any StoredObjectReader, description: String) {
        self.reader = reader
        self.description = description
    }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = Int(min(Int64(buffer.count), reader.size - offset))
        guard count > 0 else { return 0 }
        try reader.read(at: offset, count: count, into: buffer.baseAddress!)
        offset += Int64(count)
        return count
    }
}

/// An archive being written as a stored object: it appears under its name only on `commit`.
final class StoredArchiveOutput: ArchiveOutput {
    let description: String
    private let writer: any StoredObjectWriter

    init(_ writer: any StoredObjectWriter, description: String) {
        self.writer = writer
        self.description = description
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }
    func commit() throws { try writer.commit() }
    func abort() { writer.abort() }
}

extension Repository {
    /// The stored name of a catalogued snapshot's archive.
    /// - Throws: `VeloError` (`.damaged`) when the entry names no archive of the layout.
    package func archiveName(of entry: CatalogEntry) throws -> StoredName {
        guard let name = StoredName.parse(entry.archive, as: .snapshot) else {
            throw VeloError(
                "\(catalog.entryLocation(entry.id)): archive '\(entry.archive)' is not a snapshot archive's name", kind: .damaged)
        }
        return name
    }

    /// Where a catalogued snapshot's archive is, for messages and reports.
    public func archiveLocation(of entry: CatalogEntry) -> String {
        (try? archiveName(of: entry)).map(storage.describe) ?? "\(storage.location): \(entry.archive)"
    }

    /// A reader of a catalogued snapshot's archive, in either format (its pieces from this repository).
    /// - Throws: `VeloError` (`.damaged`) when the archive the catalog names is missing.
    /// With `cached` false, the archive and its segment lists are read from the storage, not this machine's
    /// cache (verify).
    package func archiveReader(of entry: CatalogEntry, cached: Bool = true) throws -> SegmentedArchiveReader {
        let name = try archiveName(of: entry)
        do { return try archiveReader(name, cached: cached) } catch StorageError.missing { throw missingArchive(name, of: entry) }
    }

    /// A catalogued snapshot whose archive is gone: damage of the repository, as a missing piece is.
    func missingArchive(_ name: StoredName, of entry: CatalogEntry) -> VeloError {
        VeloError("\(storage.describe(name)): the archive is missing (\(catalog.entryLocation(entry.id)) names it)", kind: .damaged)
    }

    /// A reader of the archive `name`, in either format.
    package func archiveReader(_ name: StoredName, cached: Bool = true) throws -> SegmentedArchiveReader {
        let input = StoredArchiveInput(try storage.open(name, cached: cached), description: storage.describe(name))
        return try SegmentedArchiveReader(input: input, pieces: { [storage] in PieceStore(storage: storage, readsStoredCopies: !cached) })
    }

    /// The size of a catalogued snapshot's archive.
    package func archiveSize(of entry: CatalogEntry) throws -> Int64 {
        let name = try archiveName(of: entry)
        guard let info = try storage.stat(name) else { throw missingArchive(name, of: entry) }
        return info.size
    }

    /// A new archive, written aside until the writer's `finish` commits it under `name`.
    package func createArchive(_ name: StoredName) throws -> any ArchiveOutput {
        StoredArchiveOutput(try storage.create(name), description: storage.describe(name))
    }
}
