/// Format version 1 of velo's snapshot archives: the names and limits that `docs/FORMAT.md` describes.
/// Later versions of velo keep reading version 1.
public enum ArchiveFormat {
    /// The `format` value of `velo-snapshot.json` and `manifest.json`.
    public static let name = "velo-snapshot"
    /// The version this velo writes.
    public static let version = 1
    /// The newest version this velo reads.
    public static let newestReadable = 1

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
