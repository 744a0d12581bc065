import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A Laravel app's `.env`, read the way phpdotenv (which Laravel uses) reads it, strictly: `KEY=value` lines,
/// optional `export `, `#` comments (whole lines, or after whitespace in an unquoted value), single quotes
/// (literal), double quotes (escapes `\n \t \" \\ \$`, and `${VAR}`), `${VAR}` in unquoted values too. A line
/// that is none of these is refused naming the file and line, rather than guessed at.
package struct AppEnvironment: Sendable, Equatable {
    package private(set) var values: [String: String] = [:]

    package init(values: [String: String]) { self.values = values }

    package subscript(key: String) -> String? { values[key] }

    /// Reads `path`.
    /// - Throws: `.io` when it cannot be read, `.input` naming the line for a malformed one.
    package init(contentsOf path: String) throws {
        let bytes = try FileSystem.read(path)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw VeloError("\(path): not UTF-8 text") }
        try self.init(parsing: text, file: path)
    }

    package init(parsing text: String, file: String = ".env") throws {
        var lineNumber = 0
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) }[
            ...]
        while let raw = lines.popFirst() {
            lineNumber += 1
            let start = lineNumber
            func fail(_ reason: String) -> VeloError { VeloError("\(file):\(start): \(reason)") }
            var line = Substring(raw).drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7).drop { $0 == " " } }
            guard let equals = line.firstIndex(of: "=") else { throw fail("expected KEY=value") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard let first = key.unicodeScalars.first, first == "_" || CharacterSet.letters.contains(first),
                key.unicodeScalars.allSatisfy({ $0 == "_" || $0 == "." || CharacterSet.alphanumerics.contains($0) && $0.isASCII })
            else {
                throw fail("'\(key)' is not a variable name")
            }
            var rest = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            var value = ""
            if let quote = rest.first, quote == "\"" || quote == "'" {
                // A quoted value may run over several lines, up to its closing quote.
                var body = String(rest.dropFirst())
                var closing: String.Index?
                while true {
                    closing = Self.closingQuote(quote, in: body)
                    if closing != nil { break }
                    guard let next = lines.popFirst() else { throw fail("the \(quote) quote is never closed") }
                    lineNumber += 1
                    body += "\n" + next
                }
                let inside = String(body[..<closing!])
                let after = body[body.index(after: closing!)...].trimmingCharacters(in: .whitespaces)
                guard after.isEmpty || after.hasPrefix("#") else { throw fail("unexpected text after the closing quote: \(after)") }
                value = quote == "'" ? inside : try Self.interpolate(Self.unescape(inside), values, fail)
            } else {
                // Unquoted: up to a ` #` comment, trimmed; no spaces inside (phpdotenv refuses them too).
                if let hash = rest.range(of: " #") ?? rest.range(of: "\t#") { rest = rest[..<hash.lowerBound] }
                let trimmed = rest.trimmingCharacters(in: .whitespaces)
                if trimmed.contains(" ") { throw fail("an unquoted value with spaces; put it in quotes") }
                value = try Self.interpolate(trimmed, values, fail)
            }
            values[key] = value
        }
    }

    /// The index of the unescaped closing quote in `body`, if any.
    private static func closingQuote(_ quote: Character, in body: String) -> String.Index? {
        var escaped = false
        var index = body.startIndex
        while index < body.endIndex {
            let c = body[index]
            if quote == "\"" && c == "\\" && !escaped {
                escaped = true
            } else {
                if c == quote && !escaped { return index }
                escaped = false
            }
            index = body.index(after: index)
        }
        return nil
    }

    private static func unescape(_ text: String) -> String {
        var out = ""
        var escaped = false
        for c in text {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "\"", "\\", "$": out.append(c)
                default: out.append("\\"); out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        if escaped { out.append("\\") }
        return out
    }

    /// Replaces `${NAME}` with an earlier value of this file, else the process environment, else "".
    private static func interpolate(_ text: String, _ values: [String: String], _ fail: (String) -> VeloError) throws -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { throw fail("${ is never closed") }
            let name = String(rest[open.upperBound..<close])
            out += values[name] ?? ProcessInfo.processInfo.environment[name] ?? ""
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
