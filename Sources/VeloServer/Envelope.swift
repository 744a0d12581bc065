import Hummingbird
import NIOCore
import VeloKit

/// Veloquent's response envelope `{"message": …, "data": …}` and the JSON responses built on it.
package enum Envelope {
    /// `{"message": message, "data": data}` with `status`.
    /// `data` goes out without the server's folders (`ClientJSON`); `records` is data read from the database
    /// (a record, collection rows), sent exactly as stored, which holds no server path.
    static func success(
        _ data: JSONValue, message: String = "Success", status: HTTPResponse.Status = .ok, records: Bool = false
    ) -> Response {
        json(.object([("message", .string(message)), ("data", records ? data : ClientJSON.scrubbed(data))]), status: status)
    }

    /// An Encodable value (a VeloKit result, as the CLI's `--json` prints it) as `data`.
    static func success<T: Encodable>(encoding value: T, message: String = "Success") throws -> Response {
        success(try JSONValueEncoder().encode(value), message: message)
    }

    /// The error body of `error`.
    static func failure(_ error: APIError) -> Response {
        var response = json(ClientJSON.scrubbed(error.json), status: error.status)
        for field in error.headers { response.headers.append(field) }
        return response
    }

    /// Any JSON value as a response.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = Array(JSONWriter.string(value).utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: NIOCore.ByteBuffer(bytes: bytes)))
    }
}
