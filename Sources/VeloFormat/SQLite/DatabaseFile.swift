import Foundation

/// Checks on a database path made before SQLite opens it, so that a wrong path gets a plain error.
public enum DatabaseFile {
    /// Why a path cannot be opened as an SQLite database.
    public enum Problem: VeloFailure, Equatable {
        public var kind: ErrorKind { .input }
        case missing(String)
        case directory(String)
        case notRegularFile(String)
        case unreadable(String)
        case notSQLite(String)

        public var description: String {
            switch self {
            case .missing(let p): return "\(p): no such file"
            case .directory(let p): return "\(p): is a directory, not an SQLite database file"
            case .notRegularFile(let p): return "\(p): not a regular file"
            case .unreadable(let p): return "\(p): cannot be read (permission denied?)"
            case .notSQLite(let p): return "\(p): not an SQLite database (the file does not start with the SQLite header)"
            }
        }
    }

    /// The 16 bytes every SQLite 3 database file starts with.
    public static let header: [UInt8] = Array("SQLite format 3\0".utf8)

    /// Throws a `Problem` unless `path` is a readable regular file that is empty or starts with the SQLite header.
    public static func check(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Problem.missing(path)
        }
        if isDirectory.boolValue { throw Problem.directory(path) }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Problem.unreadable(path) }
        defer { try? handle.close() }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let type = attributes?[.type] as? FileAttributeType, type != .typeRegular {
            throw Problem.notRegularFile(path)
        }
        let prefix = (try? handle.read(upToCount: header.count)) ?? Data()
        if prefix.isEmpty { return }
        if Array(prefix) != header { throw Problem.notSQLite(path) }
    }
}
