import Foundation
import VeloFormat
import VeloStorage

/// What one archive marks in a sweep (`PieceSweep`): the segment lists its `segments.json` names and, for each
/// table's own list, the segment count it is read within. An archive never changes under its name (a name is
/// its time and a random id), so on a storage billed by request what a sweep read of it is kept on this machine
/// (`<cache>/marks/<archive name>.json`) and the next prune reads no archive it has seen: a prune of a bucket
/// with a year of hourly snapshots read every kept archive (about a hundred GETs) each time. A sweep deletes what
/// no marks name, so a kept copy carries the SHA-256 of its JSON on its first line: one damaged on this machine
/// (or that does not parse) is read again from the archive, never trusted. Deleting the folder only costs
/// requests.
struct ArchiveMarks: Equatable {
    var lists: [String]
    var tableLists: [String: Int]

    /// The marks of `archive`: from the cache when kept, else read from the archive (and kept).
    static func of(_ archive: StoredName, in repository: Repository) throws -> ArchiveMarks {
        let file = cacheFile(archive, repository.storage)
        if let file, let kept = FileManager.default.contents(atPath: file),
            let marks = ArchiveMarks(checked: Array(kept))
        {
            return marks
        }
        let read = try SegmentedSnapshot.read(archive, in: repository)
        var marks = ArchiveMarks(lists: read.segments?.listPieces ?? [], tableLists: [:])
        for table in read.segments?.allTables ?? [] { marks.tableLists[table.list] = table.segments }
        if let file {
            let directory = (file as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let temporary = file + ".tmp-\(getpid())"
            if FileManager.default.createFile(atPath: temporary, contents: Data(marks.checkedBytes)) {
                if rename(temporary, file) != 0 { unlink(temporary) }
            }
        }
        return marks
    }

    /// Forgets the marks of an archive that was removed.
    static func forget(_ archive: StoredName, in storage: any RepositoryStorage) {
        if let file = cacheFile(archive, storage) { unlink(file) }
    }

    private static func cacheFile(_ archive: StoredName, _ storage: any RepositoryStorage) -> String? {
        guard storage.requests != nil, let directory = storage.cacheDirectory else { return nil }
        return (directory as NSString).appendingPathComponent("marks/\(archive.name).json")
    }

    var json: JSONValue {
        .object([
            ("lists", .array(lists.map { .string($0) })),
            ("tables", .object(tableLists.keys.sorted().map { ($0, .int(Int64(tableLists[$0]!))) })),
        ])
    }

    /// The kept form: `sha256:<hex of the JSON>`, a newline, the JSON.
    var checkedBytes: [UInt8] {
        let body = Array(JSONWriter.string(json).utf8)
        return Array("sha256:\(SHA256Digest.of(body))\n".utf8) + body
    }

    /// Marks from their kept form, nil when the checksum or the JSON is wrong.
    init?(checked bytes: [UInt8]) {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let body = Array(bytes[(newline + 1)...])
        guard String(decoding: bytes[..<newline], as: UTF8.self) == "sha256:" + SHA256Digest.of(body),
            let json = try? JSONParser.parse(body)
        else { return nil }
        self.init(json: json)
    }

    init(lists: [String], tableLists: [String: Int]) {
        self.lists = lists
        self.tableLists = tableLists
    }

    init?(json: JSONValue) {
        guard case .array(let listValues)? = json["lists"], case .object(let tables)? = json["tables"] else { return nil }
        var lists: [String] = []
        for value in listValues {
            guard let name = value.stringValue else { return nil }
            lists.append(name)
        }
        var tableLists: [String: Int] = [:]
        for (name, value) in tables {
            guard let count = value.intValue else { return nil }
            tableLists[name] = count
        }
        self.init(lists: lists, tableLists: tableLists)
    }
}
