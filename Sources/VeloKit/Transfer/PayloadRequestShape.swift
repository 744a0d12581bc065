import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// The shape of a transfer import's request body, read in one streaming pass without holding it: the JSON type
/// of each top-level member (`payload` → `object`), whether an object or array is empty, and a string member's
/// text, for Laravel's validation of `payload` (required: present and not empty; an array) and `conflict` before
/// the import reads the body.
package enum PayloadRequestShape {
    /// One top-level member.
    package struct Member: Sendable {
        package var key: String
        /// `object`, `array`, `string`, `number`, `boolean` or `null`.
        package var type: String
        /// An object or array without members.
        package var isEmpty: Bool
        /// A string member's text.
        package var text: String?
    }

    /// The top-level members, in order; nil when the document is not a JSON object.
    package static func members(path: String) throws -> [Member]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VeloError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let tokens = JSONTokenizer(fd: fd, maxStringBytes: PayloadReader.defaultMaxStringBytes)
        do {
            guard try tokens.next() == .beginObject else { return nil }
            var out: [Member] = []
            while true {
                let t = try tokens.next()
                if t == .endObject { break }
                guard t != .end else { throw VeloError("the request body is not valid JSON: it ends inside the object") }
                let key = tokens.string
                let v = try tokens.next()
                var member = Member(key: key, type: "null", isEmpty: false, text: nil)
                switch v {
                case .beginObject, .beginArray:
                    member.type = v == .beginObject ? "object" : "array"
                    // Empty when the next token closes it; otherwise skip the rest of it.
                    let first = try tokens.next()
                    if first == .endObject || first == .endArray {
                        member.isEmpty = true
                    } else {
                        if first == .key { try tokens.skip(after: try tokens.next()) } else { try tokens.skip(after: first) }
                        try tokens.skip(after: v)
                    }
                case .string:
                    member.type = "string"
                    member.text = tokens.string
                case .number: member.type = "number"
                case .trueValue, .falseValue: member.type = "boolean"
                default: break
                }
                out.append(member)
            }
            return out
        } catch let failure as JSONTokenizer.Failure {
            throw VeloError("the request body is not valid JSON: \(failure.text)")
        }
    }
}
