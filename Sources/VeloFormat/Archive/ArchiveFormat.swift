/// Format version 1 of velo's snapshot archives: the names and limits that `docs/FORMAT.md` describes.
/// Later versions of velo keep reading version 1.
public enum ArchiveFormat {
    /// The `format` value of `velo-snapshot.json` and `manifest.json`.
    public static let name = "velo-snapshot"
    /// The version this velo writes.
    public static let version = 1
    /// The newest version this velo reads: 2 is an incremental snapshot (`SegmentFormat`).
    public static let newestReadable = 2

    /// The first entry: what the snapshot is and where it came from.
    public static let headerPath = "velo-snapshot.json"
    /// Every `sqlite_schema` row of the source, in rowid order.
    public static let schemaPath = "schema/sqlite_schema.ndjson"
    /// The columns of the rows of `schemaPath`.
    public static let schemaColumns = ["type", "name", "tbl_name", "sql"]
    /// The last entry: every other entry's size, rows and SHA-256.
    public static let manifestPath = "manifest.json"
    /// The file name ending of snapshot archives.
    public static let fileExtension = ".tar.zst"

    /// Rows are cut into parts of about this many uncompressed bytes, so no entry needs more memory than this.
    public static let defaultPartBytes = 4 << 20
    /// The parts of an incremental snapshot are rebuilt from its segments and never held whole, so they can be
    /// larger: every snapshot, changed or not, lists its parts in its manifest and its catalog entry, and fewer
    /// of them keep an unchanged snapshot small.
    public static let incrementalPartBytes = 16 << 20

    // Limits. velo refuses to write what it would refuse to read, and refuses to read past these, so every
    // command's memory stays bounded whatever an archive claims (docs/FORMAT.md, "Limits").

    /// The longest row velo writes or reads: one line of a part, without its newline, encoded (blobs as base64).
    public static let maxRowBytes = 16 << 20
    /// The largest part size a backup may be asked to cut at.
    public static let maxPartTarget = 16 << 20
    /// The largest data entry (a part or the schema): a part is closed after the row that reaches the target size,
    /// so it holds at most one row more than `maxPartTarget`.
    public static let maxDataEntryBytes = maxPartTarget + maxRowBytes
    /// The largest zstd window a frame may ask for, as a power of two (16 MiB): velo's levels need at most 8 MiB.
    public static let maxZstdWindowLog = 24
    /// The largest JSON entry (`velo-snapshot.json`, `manifest.json`), read whole and parsed into memory.
    public static let maxJSONEntryBytes = 8 << 20
    /// Bytes of zeros allowed after the tar stream's end marker: tar's padding to a 10240-byte record, which
    /// other tar writers add (velo adds none). Anything more, or anything not zero, is damage.
    public static let maxTrailingPadding = 10240

    /// The largest entry of a velo archive at `path`, by what the entry is.
    package static func maxEntryBytes(_ path: String) -> Int64 {
        if isFileEntry(path) { return maxFileEntryBytes }
        return Int64(path == headerPath || path == manifestPath ? maxJSONEntryBytes : maxDataEntryBytes)
    }

    /// Where a table's rows go, by the table's role.
    public enum Group: String, Sendable, Codable, CaseIterable {
        /// `collections`.
        case metadata
        /// Veloquent's system tables, the landlord's tables, and the framework tables when included.
        case system
        /// Collection tables and pivot tables.
        case records
        /// Tables that are not Veloquent's (orphans, other applications' tables).
        case other
        /// SQLite's own `sqlite_sequence` and `sqlite_stat*` tables.
        case sqlite
    }

    /// `records/_velo_posts/000001.ndjson`. Table names are percent-encoded where they are not `[A-Za-z0-9_.-]`
    /// so that no name can escape its folder.
    public static func partPath(group: Group, table: String, part: Int) -> String {
        "\(group.rawValue)/\(escape(table))/\(pad(part)).ndjson"
    }

    static func pad(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Percent-encodes a table name for use as one path component.
    public static func escape(_ table: String) -> String {
        var out = ""
        let hex = Array("0123456789ABCDEF")
        for byte in table.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out.append("%")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return out.isEmpty ? "%" : out
    }
}
