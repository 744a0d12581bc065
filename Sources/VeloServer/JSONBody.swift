import Hummingbird
import NIOCore
import VeloKit

/// A request's JSON body, read whole up to a limit (these bodies are small: options, not payloads), as Laravel
/// reads one for validation: an empty body is an empty object; a JSON array or scalar has no named fields (a
/// route whose fields are all optional answers it as an empty body); every string is trimmed (Laravel's
/// TrimStrings, `password` excepted), and an empty one is as good as absent (Laravel's rules other than
/// `required` skip it, and `required` fails on it). A body that is not JSON is a 400 naming the fault, where
/// Laravel would read no input at all (README lists the difference).
struct JSONBody {
    let value: JSONValue

    static func read(_ request: Request, limit: Int) async throws -> JSONBody {
        var bytes: [UInt8] = []
        for try await chunk in request.body {
            guard bytes.count + chunk.readableBytes <= limit else {
                throw APIError(.contentTooLarge, "The request body is larger than \(limit) bytes.")
            }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return JSONBody(value: .object([])) }
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch {
            throw APIError(.badRequest, "The request body is not valid JSON: \(error)")
        }
        guard case .object(let pairs) = value else { return JSONBody(value: .object([])) }
        return JSONBody(value: .object(pairs.map { ($0.0, Self.passwordFields.contains($0.0) ? $0.1 : trimmed($0.1)) }))
    }

    /// TrimStrings' exceptions.
    static let passwordFields: Set<String> = ["password", "current_password", "password_confirmation"]

    /// `value` with every string trimmed of white space, at any depth.
    static func trimmed(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(text.trimmingCharacters(in: .whitespacesAndNewlines))
        case .array(let items): return .array(items.map(trimmed))
        case .object(let pairs): return .object(pairs.map { ($0.0, trimmed($0.1)) })
        default: return value
        }
    }

    /// The field's value; nil when it is absent, null or an empty (or blank) string.
    subscript(key: String) -> JSONValue? {
        guard let v = value[key], !v.isNull else { return nil }
        if case .string(let text) = v, text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return nil }
        return v
    }
}

/// Laravel's validation failure: 422 `{"message": "<first error> (and N more errors)", "errors": {field: [..]}}`.
enum Validation {
    static func failed(_ errors: [(String, [String])]) -> APIError {
        let all = errors.flatMap(\.1)
        var message = all.first ?? "The given data was invalid."
        if all.count > 1 { message += " (and \(all.count - 1) more error\(all.count > 2 ? "s" : ""))" }
        return APIError(
            .unprocessableContent, message,
            errors: .object(errors.map { ($0.0, .array($0.1.map { .string($0) })) }))
    }

    static func failed(_ errors: KeyValuePairs<String, [String]>) -> APIError {
        failed(errors.map { ($0.key, $0.value) })
    }

    /// Collects the errors of one body, field by field, in the order the checks run.
    struct Collector {
        var errors: [(String, [String])] = []

        mutating func add(_ field: String, _ message: String) {
            if let i = errors.firstIndex(where: { $0.0 == field }) {
                errors[i].1.append(message)
            } else {
                errors.append((field, [message]))
            }
        }

        /// `field` as an optional array of strings (`nullable|array`, `field.*|string`).
        mutating func strings(_ body: JSONBody, _ field: String) -> [String]? {
            guard let value = body[field] else { return nil }
            guard let array = value.arrayValue else {
                add(field, "The \(field.replacingOccurrences(of: "_", with: " ")) field must be an array."); return nil
            }
            var out: [String] = []
            for (i, item) in array.enumerated() {
                guard let s = item.stringValue else { add("\(field).\(i)", "The \(field).\(i) field must be a string."); continue }
                out.append(s)
            }
            return out
        }

        /// `field` as an optional boolean (`nullable|boolean`: true, false, 0, 1, "0", "1").
        mutating func bool(_ body: JSONBody, _ field: String) -> Bool? {
            guard let value = body[field] else { return nil }
            switch value {
            case .bool(let b): return b
            case .number(let n) where n == "0" || n == "1": return n == "1"
            case .string(let s) where s == "0" || s == "1": return s == "1"
            default: add(field, "The \(field.replacingOccurrences(of: "_", with: " ")) field must be true or false."); return nil
            }
        }

        /// `field` as an optional string, one of `allowed` when given.
        mutating func string(_ body: JSONBody, _ field: String, in allowed: [String]? = nil) -> String? {
            guard let value = body[field] else { return nil }
            guard let s = value.stringValue else {
                add(field, "The \(field.replacingOccurrences(of: "_", with: " ")) field must be a string."); return nil
            }
            if let allowed, !allowed.contains(s) {
                add(field, "The selected \(field.replacingOccurrences(of: "_", with: " ")) is invalid."); return nil
            }
            return s
        }

        func check() throws {
            if !errors.isEmpty { throw Validation.failed(errors) }
        }
    }
}
