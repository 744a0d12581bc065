import HTTPTypes
import Hummingbird
import NIOCore
import VeloKit

/// One server-sent event (`text/event-stream`, as the HTML standard defines it): how a long operation's route
/// tells its client how far it is while it runs, then how it ended, over the response of the request that
/// started it. A client asks for events with `Accept: text/event-stream`; without it the route answers one JSON
/// response when the work is done, as before. The backups page reads the events with `fetch`, so the token stays
/// in `Authorization` (`EventSource` cannot send one).
struct ServerSentEvent: Sendable {
    /// `progress`, `result` or `error`.
    var event: String
    /// The event's JSON, written on one line.
    var data: JSONValue

    /// `event: <name>`, `data: <JSON>` and a blank line.
    var bytes: [UInt8] { Array("event: \(event)\ndata: \(JSONWriter.string(data))\n\n".utf8) }

    /// Whether `request` asked for events rather than one JSON response.
    static func requested(by request: Request) -> Bool {
        request.headers[.accept]?.contains("text/event-stream") == true
    }

    /// A 200 response that writes `events` as they come and ends when they end. A client that goes away ends the
    /// response, never the operation sending the events. `X-Accel-Buffering: no` asks nginx (and proxies that
    /// follow it) to pass each event on at once.
    static func response(_ events: AsyncStream<ServerSentEvent>) -> Response {
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-store"]
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                for await event in events { try await writer.write(NIOCore.ByteBuffer(bytes: event.bytes)) }
                try await writer.finish(nil)
            })
    }

    /// The `result` event: the body the JSON response would have had (`message` and `data`).
    static func result(_ data: JSONValue, message: String) -> ServerSentEvent {
        ServerSentEvent(event: "result", data: .object([("message", .string(message)), ("data", ClientJSON.scrubbed(data))]))
    }

    /// The `error` event: the error body the JSON response would have had, with its HTTP status as `status`.
    static func error(_ error: APIError) -> ServerSentEvent {
        guard case .object(var pairs) = ClientJSON.scrubbed(error.json) else { return ServerSentEvent(event: "error", data: error.json) }
        pairs.append(("status", .number(String(error.status.code))))
        return ServerSentEvent(event: "error", data: .object(pairs))
    }
}
