import Foundation
import VeloFormat
import VeloStorage

#if canImport(Glibc)
import Glibc
#endif

/// `velo export` of an encrypted snapshot, unless told to decrypt: the format-1 archive sealed as a repository
/// object is, in a file that carries what opens it, so that the file alone and the password read it (`velo verify`,
/// `velo cat`, `velo inspect` of the file's path):
///
///     "VELOEXP1" ‖ n (4 bytes, big-endian) ‖ n bytes of JSON ‖ sealed object
///     JSON: {"format": "velo-export", "version": 1, "snapshot": "<id>", "repository": "<id>",
///            "key_fingerprint": "<16 hex>", "key": <the key file the password opened>}
///
/// The sealed object (`SealedObject`) is sealed under the repository's keys with the name `export/<snapshot
/// id>.tar.zst`; its plaintext is exactly what `velo export --decrypt` writes.
public enum SealedExport {
    package static let magic: [UInt8] = Array("VELOEXP1".utf8)

    static func objectPath(_ snapshotID: String) -> String { "export/\(snapshotID).tar.zst" }

    /// Whether the file at `path` is a sealed export (by its first 8 bytes).
    package static func isSealed(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: magic.count)).map(Array.init) == magic
    }

    /// Writes a sealed export to a new file: the header, then the archive sealed as it comes. Nothing is left at
    /// `path` unless `commit` succeeds (fsynced).
    package final class Output: ArchiveOutput {
        package let description: String
        private let file: ArchiveFileOutput
        private let stream: SealingStream

        package init(path: String, snapshotID: String, repository: Repository) throws {
            guard let keys = repository.storage.keys, let keyFile = repository.keyFile, let repositoryID = repository.id else {
                throw VeloError("\(repository.root): the repository is not encrypted; nothing to seal an export with")
            }
            let header = JSONValue.object([
                ("format", .string("velo-export")), ("version", .int(1)), ("snapshot", .string(snapshotID)),
                ("repository", .string(repositoryID)), ("key_fingerprint", .string(keys.fingerprint)),
                ("key", try JSONParser.parse(keyFile.bytes)),
            ])
            let output = try ArchiveFileOutput(path: path)
            description = path
            file = output
            stream = try Self.start(output, header: header, keys: keys, snapshotID: snapshotID)
        }

        /// Writes the header and starts the sealed object; the file is dropped when that fails.
        private static func start(
            _ output: ArchiveFileOutput, header: JSONValue, keys: RepositoryKeys, snapshotID: String
        ) throws
            -> SealingStream
        {
            let json = Array(JSONWriter.string(header).utf8)
            let length = UInt32(json.count)
            let prefix = magic + [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
            do {
                try (prefix + json).withUnsafeBytes { try output.write($0) }
                return try SealingStream(keys: keys, relativePath: SealedExport.objectPath(snapshotID)) { try output.write($0) }
            } catch {
                output.abort()
                throw error
            }
        }

        package func write(_ bytes: UnsafeRawBufferPointer) throws { try stream.write(bytes) }

        package func commit() throws {
            do { try stream.finish() } catch {
                file.abort()
                throw error
            }
            try file.commit()
        }

        package func abort() { file.abort() }
    }

    /// A sealed export opened with its password: its snapshot's id and a reader of its archive.
    public final class Opened: @unchecked Sendable {
        package let path: String
        package let snapshotID: String
        package let keys: RepositoryKeys
        let dataOffset: Int64
        let storedSize: Int64

        init(path: String, snapshotID: String, keys: RepositoryKeys, dataOffset: Int64, storedSize: Int64) {
            self.path = path
            self.snapshotID = snapshotID
            self.keys = keys
            self.dataOffset = dataOffset
            self.storedSize = storedSize
        }

        /// The archive's plain size.
        package func archiveSize() throws -> Int64 { try ranges(FileHandle(forReadingAtPath: path)).size }

        private func ranges(_ handle: FileHandle?) throws -> SealedRanges {
            guard let handle else { throw VeloError("\(path): cannot be opened") }
            let offset = dataOffset
            let describe = path
            return try SealedRanges(storedSize: storedSize, keys: keys, relativePath: objectPath(snapshotID), describe: describe) {
                at, count, into in
                try handle.seek(toOffset: UInt64(offset + at))
                let data = try handle.read(upToCount: count) ?? Data()
                guard data.count == count else {
                    throw VeloError("\(describe): ends before byte \(offset + at + Int64(count)) (cut short)", kind: .damaged)
                }
                data.withUnsafeBytes { into.copyMemory(from: $0.baseAddress!, byteCount: count) }
            }
        }

        /// The archive, read front to back (decrypted and authenticated as it goes).
        package func input() throws -> any ArchiveInput {
            Input(description: path, ranges: try ranges(FileHandle(forReadingAtPath: path)))
        }
    }

    final class Input: ArchiveInput {
        let description: String
        private let ranges: SealedRanges
        private var offset: Int64 = 0

        init(description: String, ranges: SealedRanges) {
            self.description = description
            self.ranges = ranges
        }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let count = Int(min(Int64(buffer.count), ranges.size - offset))
            guard count > 0 else { return 0 }
            try ranges.read(at: offset, count: count, into: buffer.baseAddress!)
            offset += Int64(count)
            return count
        }
    }

    /// Opens the sealed export at `path` with the password `source` gives.
    /// - Throws: `.damaged` when its header or key is damaged, `.wrongPassword`, `.input` without a password.
    package static func open(_ path: String, password source: PasswordSource?) throws -> Opened {
        func damaged(_ what: String) -> VeloError { VeloError("\(path): \(what)", kind: .damaged) }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw VeloError("\(path): cannot be opened") }
        defer { try? handle.close() }
        let prefix = Array((try? handle.read(upToCount: 12)) ?? Data())
        guard prefix.count == 12, Array(prefix[0..<8]) == magic else { throw damaged("not a sealed velo export") }
        let length = Int(prefix[8]) << 24 | Int(prefix[9]) << 16 | Int(prefix[10]) << 8 | Int(prefix[11])
        guard length <= 1 << 20, let headerData = try? handle.read(upToCount: length), headerData.count == length else {
            throw damaged("its header is cut short")
        }
        let header: JSONValue
        do { header = try JSONParser.parse(Array(headerData)) } catch { throw damaged("its header is not JSON (\(error))") }
        guard header["format"]?.stringValue == "velo-export", header["version"]?.intValue == 1,
            let snapshot = header["snapshot"]?.stringValue, SnapshotID.isValid(snapshot),
            let fingerprint = header["key_fingerprint"]?.stringValue,
            let keyJSON = header["key"]
        else { throw damaged("its header is not a velo-export header of version 1") }
        let keyFile = try KeyFile.parse(Array(JSONWriter.string(keyJSON).utf8), describe: "\(path) (its key)")
        guard let source else {
            throw VeloError("\(path): the export is encrypted and no password was given", remedy: .givePassword(repository: path))
        }
        guard let keys = try keyFile.unwrap(try source.read("Password for \(path): ")) else {
            throw VeloError("\(path): wrong password (from \(source.origin)): it does not open the export's key", kind: .wrongPassword)
        }
        guard keys.fingerprint == fingerprint else { throw damaged("its key holds another master key than its header names") }
        let dataOffset = Int64(12 + length)
        let total = Int64(try handle.seekToEnd())
        return Opened(path: path, snapshotID: snapshot, keys: keys, dataOffset: dataOffset, storedSize: total - dataOffset)
    }
}
