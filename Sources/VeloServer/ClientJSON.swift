import VeloKit

/// What leaves the server in a JSON body: the same shape as VeloKit's results (the CLI's `--json`), without the
/// server's folders. A value that is an absolute path becomes the file's name (an archive's names its
/// snapshot); a message-like text (`message`,
/// `problems`, …) has each path in it shortened the same way (`ClientText`). Ids, table and collection names,
/// counts and record data are left as they are.
enum ClientJSON {
    /// Keys whose strings are texts for a person, in which paths are shortened.
    static let textKeys: Set<String> = [
        "message", "messages", "problems", "problem", "reason", "warnings", "warning", "error", "errors", "note", "notes",
        "advice", "remedy", "description", "detail",
    ]

    static func scrubbed(_ value: JSONValue, key: String? = nil) -> JSONValue {
        switch value {
        case .string(let text):
            if text.hasPrefix("/") && !text.contains(" ") { return .string(clientPath(text)) }
            if let key, textKeys.contains(key) { return .string(ClientText.scrub(text)) }
            return value
        case .array(let items): return .array(items.map { scrubbed($0, key: key) })
        case .object(let pairs):
            // A key may be a path too (retention groups by source).
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
