import HTTPTypes
import VeloKit

/// An error the API answers with a status and Veloquent's error body `{"message": …, "errors": …}`. Laravel's
/// own errors (401, 403, 404, 429) carry only `message`, as Laravel renders them.
package struct APIError: Error, Sendable {
    package var status: HTTPResponse.Status
    package var message: String
    /// Laravel's validation `errors` object, or velo's findings for a blocked plan.
    package var errors: JSONValue?
    /// Whether the body has an `errors` key at all (Veloquent's service errors have `"errors": null`).
    package var hasErrorsKey: Bool
    package var headers: HTTPFields = [:]

    package init(_ status: HTTPResponse.Status, _ message: String, errors: JSONValue? = nil, hasErrorsKey: Bool = false) {
        self.status = status
        self.message = message
        self.errors = errors
        self.hasErrorsKey = hasErrorsKey || errors != nil
    }

    /// Veloquent's answer to a failed service call: 422 `{"message": "<reason>", "errors": null}`.
    package static func service(_ message: String, errors: JSONValue? = nil) -> APIError {
        APIError(.unprocessableContent, message, errors: errors, hasErrorsKey: true)
    }

    /// What a VeloKit failure is over HTTP: a lock held by another operation is 409, everything else a 422
    /// service error naming what is at fault, in the words a client may see (`VeloFailure.clientDescription`:
    /// no server path, no SQL; the library never names a command-line flag).
    package static func from(_ error: any Error) -> APIError {
        if let api = error as? APIError { return api }
        let message = (error as? VeloFailure)?.clientDescription ?? "Server Error"
        switch error.veloKind {
        case .locked: return APIError(.conflict, message, hasErrorsKey: true)
        case .interrupted: return APIError(.serviceUnavailable, message, hasErrorsKey: true)
        default: return .service(message)
        }
    }

    /// `value` with every string in a client's words (`ClientText`): findings sent as a refusal's `errors`.
    package static func clientWords(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(ClientText.scrub(text))
        case .array(let items): return .array(items.map(clientWords))
        case .object(let pairs): return .object(pairs.map { ($0.0, clientWords($0.1)) })
        default: return value
        }
    }

    /// The body.
    var json: JSONValue {
        var pairs: [(String, JSONValue)] = [("message", .string(message))]
        if hasErrorsKey { pairs.append(("errors", errors ?? .null)) }
        return .object(pairs)
    }
}
