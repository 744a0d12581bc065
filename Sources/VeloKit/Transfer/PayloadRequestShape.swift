import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// The shape of a transfer import's request body, read in one streaming pass without holding it: the JSON type
/// of each top-level member (`payload` → `object`), for Laravel's validation of `payload` (required, an object)
/// and `conflict` before the import reads the body.
package enum PayloadRequestShape {
    /// Top-level keys and the JSON type of their values (`object`, `array`, `string`, `number`, `boolean`,
    /// `null`), in order; nil when the document is not a JSON object.
    package static func members(path: String) throws -> [(String, String)]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VeloError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let tokens = JSONTokenizer(fd: fd, maxStringBytes: PayloadReader.defaultMaxStringBytes)
        do {
            guard try tokens.next() == .beginObject else { return nil }
            var out: [(String, String)] = []
            while true {
                let t = try tokens.next()
                if t == .endObject { break }
                guard t != .end else { throw VeloError("the request body is not valid JSON: it ends inside the object") }
                let key = tokens.string
                let v = try tokens.next()
                let type: String
                switch v {
                case .beginObject: type = "object"
                case .beginArray: type = "array"
                case .string: type = "string"
                case .number: type = "number"
                case .trueValue, .falseValue: type = "boolean"
                default: type = "null"
                }
                try tokens.skip(after: v)
                out.append((key, type))
            }
            return out
        } catch let failure as JSONTokenizer.Failure {
            throw VeloError("the request body is not valid JSON: \(failure.text)")
        }
    }
}
