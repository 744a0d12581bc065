import Foundation
import Logging

/// The server's log lines on stderr, one per event, as logfmt: `time=… level=info msg=request method=GET
/// path=/api/backups status=200 ms=3.1 client=127.0.0.1`, which log shippers parse without configuration.
package struct LogfmtHandler: LogHandler {
    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]
    let label: String

    package init(label: String, level: Logger.Level = .info) {
        self.label = label
        logLevel = level
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        let time = ISO8601DateFormatter().string(from: Date())
        var line = "time=\(time) level=\(event.level.rawValue) msg=\(Self.quote("\(event.message)"))"
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() { line += " \(key)=\(Self.quote("\(merged[key]!)"))" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A value as is when it has no space, quote or `=`, else double-quoted with `"` and `\` escaped.
    static func quote(_ text: String) -> String {
        if !text.isEmpty, !text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.isNewline }) { return text }
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }
}
