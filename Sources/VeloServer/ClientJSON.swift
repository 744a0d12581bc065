import VeloKit

/// What leaves the server in a JSON body: the same shape as VeloKit's results (the CLI's `--json`), without the
/// server's folders. Only velo's own fields are touched: a path-valued field (`archive`, `source`, `path`,
/// `target`, …) that holds an absolute path becomes the file's name (an archive's names its snapshot), a
/// message-like text (`message`, `problems`, …) has each path in it shortened the same way (`ClientText`), and an
/// object key that is a path (retention's groups by source) too. Record data, collection definitions, ids,
/// table and collection names and counts are left exactly as they are.
enum ClientJSON {
    /// Fields of velo's results that hold a server path.
    static let pathKeys: Set<String> = ["archive", "source", "path", "target", "root", "database", "repository", "out", "file"]
    /// Fields of velo's results and errors that are texts for a person, in which paths are shortened.
    static let textKeys: Set<String> = [
        "message", "messages", "problems", "problem", "reason", "warnings", "warning", "error", "advice", "remedy",
    ]

    static func scrubbed(_ value: JSONValue, key: String? = nil) -> JSONValue {
        switch value {
        case .string(let text):
            guard let key else { return value }
            if pathKeys.contains(key), text.hasPrefix("/") { return .string(clientPath(text)) }
            if textKeys.contains(key) { return .string(ClientText.scrub(text)) }
            return value
        case .array(let items): return .array(items.map { scrubbed($0, key: key) })
        case .object(let pairs):
            return .object(pairs.map { ($0.0.hasPrefix("/") ? clientPath($0.0) : $0.0, scrubbed($0.1, key: $0.0)) })
        default: return value
        }
    }

    /// A result's `undo` over HTTP: the route that undoes it (the CLI's is a command line with the server's paths).
    static func undoOverHTTP(_ value: JSONValue) -> JSONValue {
        guard case .object(var pairs) = value, let safety = value["safety_snapshot"]?.stringValue else { return value }
        let hint = JSONValue.string(
            "POST backups/\(safety)/restore with {\"confirm\": true, \"conflict\": \"overwrite\"} puts back what this replaced")
        if let i = pairs.firstIndex(where: { $0.0 == "undo" }) { pairs[i].1 = hint }
        return .object(pairs)
    }

    /// An absolute path as a client may see it: the file's name (an archive's names its snapshot).
    static func clientPath(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? ""
    }
}
