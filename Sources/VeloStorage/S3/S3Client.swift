import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import VeloFormat

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Signed S3 requests, sent synchronously from velo's data path (which runs on threads of its own, never on an
/// event loop) through async-http-client. Every request carries its payload's SHA-256; transient failures
/// (5xx, `SlowDown`, 429, a connection reset or timeout) are retried with exponential backoff and jitter, a
/// bounded number of times; a response body shorter than its `Content-Length` is an error, never data.
final class S3Client: Sendable {
    let location: S3Location
    let signer: S3RequestSigner
    /// Attempts per request (the first and its retries).
    let attempts: Int
    let timeout: TimeAmount
    /// Every attempt sent, by kind.
    let counter = RequestCounter()

    init(location: S3Location, credentials: S3RequestSigner.Credentials, attempts: Int = 5, timeout: TimeAmount = .seconds(120)) {
        self.location = location
        signer = S3RequestSigner(credentials: credentials, region: location.region)
        self.attempts = attempts
        self.timeout = timeout
    }

    /// The process's HTTP client for S3 (never shut down: it lives as long as the process). A connection that
    /// cannot be made fails the attempt at once (async-http-client's default retries it until the request's
    /// deadline, which turned an unreachable server into minutes of silence); velo's own retries, with backoff,
    /// decide what happens next. TLS trusts the system's CA store plus, for a server with a private CA, the PEM
    /// file named by `AWS_CA_BUNDLE` (as the AWS CLI reads it) or `VELO_S3_CA_FILE`.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        let environment = ProcessInfo.processInfo.environment
        if let file = environment["VELO_S3_CA_FILE"] ?? environment["AWS_CA_BUNDLE"], !file.isEmpty {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(file)]
            configuration.tlsConfiguration = tls
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// `VELO_S3_TRACE=1` prints every request and its status on stderr (to see what an operation costs).
    static let trace = ProcessInfo.processInfo.environment["VELO_S3_TRACE"].map { !$0.isEmpty && $0 != "0" } ?? false

    /// One response: status, headers and the whole body (bodies read this way are bounded: small objects,
    /// ranges, listings).
    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        /// Whether an earlier attempt of this request failed after it may have reached the server (a lost
        /// answer): a conditional write's 412 may then be this request's own earlier success.
        var afterUncertainAttempt = false

        func header(_ name: String) -> String? { headers.first(name: name) }
    }

    /// A request S3 refused, with its error code and message.
    struct Failure: Error, CustomStringConvertible {
        var status: Int
        var code: String
        var message: String
        var request: String
        var description: String { "\(request): \(status) \(code)\(message.isEmpty ? "" : ": \(message)")" }
    }

    /// Sends one request; statuses in `accept` are answers, any other is a `Failure` (after retries for the
    /// transient ones).
    func send(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: [UInt8] = [],
        accept: Set<Int> = [200]
    ) throws -> Response {
        let path = location.path(for: key)
        let encodedPath = path.split(separator: "/", omittingEmptySubsequences: false)
            .map { S3RequestSigner.uriEncode(String($0)) }.joined(separator: "/")
        let encodedQuery = query.map { "\(S3RequestSigner.uriEncode($0.0))=\(S3RequestSigner.uriEncode($0.1))" }.joined(separator: "&")
        let url = "\(location.scheme)://\(location.hostHeader)\(encodedPath)\(query.isEmpty ? "" : "?" + encodedQuery)"
        let payloadSHA256 = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        let label =
            "\(method.rawValue) \(location.description)\(key.map { "/" + String($0.dropFirst(location.prefix.isEmpty ? 0 : location.prefix.count + 1)) } ?? "")"
        var delay = 0.2
        var uncertain = false
        let isList = method == .GET && query.contains { $0.0 == "list-type" || $0.0 == "uploads" }
        for attempt in 1...attempts {
            counter.record { counts in
                switch method {
                case .GET: if isList { counts.list += 1 } else { counts.get += 1 }
                case .HEAD: counts.head += 1
                case .PUT: counts.put += 1
                case .POST: counts.post += 1
                case .DELETE: counts.delete += 1
                default: break
                }
                if attempt > 1 { counts.retries += 1 }
                counts.bytesSent += Int64(body.count)
            }
            let signed = signer.signedHeaders(
                for: .init(
                    method: method.rawValue, path: path, query: query, headers: headers, host: location.hostHeader,
                    payloadSHA256: payloadSHA256),
                at: Date())
            do {
                var request = try HTTPClient.Request(url: url, method: method, headers: HTTPHeaders(signed.filter { $0.0 != "host" }))
                request.body = .bytes(body)
                let response = try Self.http.execute(request: request, deadline: .now() + timeout).wait()
                var bytes: [UInt8] = []
                if var buffer = response.body { bytes = buffer.readBytes(length: buffer.readableBytes) ?? [] }
                counter.record { [count = bytes.count] in $0.bytesReceived += Int64(count) }
                if method != .HEAD, let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length != bytes.count {
                    throw Failure(
                        status: Int(response.status.code), code: "ShortBody", message: "\(bytes.count) of \(length) bytes", request: label)
                }
                let status = Int(response.status.code)
                if Self.trace {
                    let q = query.isEmpty ? "" : "?" + query.map { $0.1.isEmpty ? $0.0 : "\($0.0)=\($0.1)" }.joined(separator: "&")
                    let range = headers.first { $0.0 == "Range" }.map { " \($0.1)" } ?? ""
                    FileHandle.standardError.write(Data("s3: \(method.rawValue) /\(key ?? "")\(q)\(range) \(status) \(bytes.count)\n".utf8))
                }
                if accept.contains(status) {
                    return Response(status: status, headers: response.headers, body: bytes, afterUncertainAttempt: uncertain)
                }
                let failure = Self.failure(status: status, body: bytes, request: label)
                let transient = status >= 500 || status == 429 || failure.code == "SlowDown" || failure.code == "RequestTimeout"
                if !transient || attempt == attempts { throw failure }
                uncertain = true
            } catch let failure as Failure where failure.code != "ShortBody" {
                throw failure
            } catch {
                uncertain = true
                if attempt == attempts {
                    throw VeloError("\(label): \(describe(error)) (after \(attempts) attempts)", kind: .io)
                }
            }
            // Exponential backoff with full jitter.
            usleep(UInt32(Double.random(in: 0...delay) * 1_000_000))
            delay = min(delay * 2, 5)
        }
        throw VeloError("\(label): no answer", kind: .io)
    }

    /// A network failure in a few words (`connection refused`, `no answer within 120 s`).
    func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout: return "the connection timed out"
            case .deadlineExceeded, .readTimeout: return "no answer within \(timeout.nanoseconds / 1_000_000_000) s"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: break
            }
        }
        return "\(error)"
    }

    /// S3's XML error body (`<Error><Code>…</Code><Message>…</Message></Error>`).
    static func failure(status: Int, body: [UInt8], request: String) -> Failure {
        let values = XMLValues.read(body, elements: ["Code", "Message"])
        return Failure(
            status: status, code: values["Code"]?.first ?? "HTTP\(status)", message: values["Message"]?.first ?? "", request: request)
    }
}

/// The text of chosen elements of a small XML document (S3's listings and errors), in document order.
enum XMLValues {
    /// The values of a listing page, whole or not at all: a body the parser cannot read to its end (a key with a
    /// character XML cannot carry, a truncated page) would otherwise list fewer objects without a word.
    /// - Throws: `.io` naming `request`.
    static func readWhole(_ bytes: [UInt8], elements: Set<String>, request: String) throws -> [String: [String]] {
        guard let values = parse(bytes, elements: elements) else {
            throw VeloError("\(request): the server's listing is not well-formed XML; nothing of it is used", kind: .io)
        }
        return values
    }

    static func read(_ bytes: [UInt8], elements: Set<String>) -> [String: [String]] {
        parse(bytes, elements: elements, lenient: true) ?? [:]
    }

    private static func parse(_ bytes: [UInt8], elements: Set<String>, lenient: Bool = false) -> [String: [String]]? {
        final class Collector: NSObject, XMLParserDelegate {
            let wanted: Set<String>
            var values: [String: [String]] = [:]
            var current: String?
            var text = ""
            init(_ wanted: Set<String>) { self.wanted = wanted }
            func parser(
                _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]
            ) {
                if wanted.contains(name) {
                    current = name
                    text = ""
                }
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { if current != nil { text += string } }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                if name == current {
                    values[name, default: []].append(text)
                    current = nil
                }
            }
        }
        let collector = Collector(elements)
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = collector
        // Leniently, a malformed body yields what was read before the fault: missing values, never a crash.
        let whole = parser.parse()
        return whole || lenient ? collector.values : nil
    }
}
