import Crypto
import Foundation

/// AWS Signature Version 4 for S3 requests, written on swift-crypto (no maintained Swift S3 library is available
/// here): the canonical request, the string to sign, the derived signing key and the `Authorization` header, as
/// AWS documents them for S3. S3's own rules apply: the path is encoded once (never twice), and the payload is
/// always signed by its SHA-256 in `x-amz-content-sha256` (never aws-chunked, which broke Litestream on R2 and
/// B2; never UNSIGNED-PAYLOAD, so a body changed on the way is refused by the server).
public struct S3RequestSigner: Sendable {
    /// The key pair (and a session's token) requests are signed with.
    public struct Credentials: Sendable, Equatable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }
    }

    /// One request to sign: everything the signature covers.
    public struct Request: Sendable {
        public var method: String
        /// The path as sent (before encoding), starting with `/`.
        public var path: String
        /// Query parameters (names and values before encoding); a name without a value has "".
        public var query: [(String, String)]
        /// Headers to sign besides `host`, `x-amz-date`, `x-amz-content-sha256` and the session token.
        public var headers: [(String, String)]
        /// `host[:port]` as sent.
        public var host: String
        /// The payload's SHA-256, lowercase hex.
        public var payloadSHA256: String

        public init(
            method: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = [], host: String,
            payloadSHA256: String
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.host = host
            self.payloadSHA256 = payloadSHA256
        }
    }

    public let credentials: Credentials
    public let region: String
    public let service: String

    public init(credentials: Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The SHA-256 of an empty payload (GET, HEAD, DELETE).
    public static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to send with `request` at `date`: `host`, `x-amz-date`, `x-amz-content-sha256`, the session
    /// token when there is one, the request's own, and `Authorization`.
    public func signedHeaders(for request: Request, at date: Date) -> [(String, String)] {
        let amzDate = Self.amzDate(date)
        var headers: [(String, String)] = [
            ("host", request.host), ("x-amz-date", amzDate), ("x-amz-content-sha256", request.payloadSHA256),
        ]
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        headers += request.headers
        let (canonical, signedNames) = Self.canonicalRequest(request, headers: headers)
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.hex(SHA256.hash(data: Data(canonical.utf8))))"
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
        headers.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"
            ))
        return headers
    }

    /// The canonical request and the `SignedHeaders` list, as AWS defines them.
    static func canonicalRequest(_ request: Request, headers: [(String, String)]) -> (String, String) {
        let path = request.path.isEmpty ? "/" : request.path
        let uri = path.split(separator: "/", omittingEmptySubsequences: false).map { uriEncode(String($0)) }.joined(separator: "/")
        let encoded: [(String, String)] = request.query.map { pair in (uriEncode(pair.0), uriEncode(pair.1)) }
        let sorted = encoded.sorted { a, b in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        let query = sorted.map { pair in "\(pair.0)=\(pair.1)" }.joined(separator: "&")
        // Header names lower-cased, values trimmed with inner runs of spaces made one, the same name's values joined.
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
                .joined(separator: " ")
            byName[name.lowercased(), default: []].append(trimmed)
        }
        let names = byName.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        let signed = names.joined(separator: ";")
        return ([request.method, uri, query, canonicalHeaders, signed, request.payloadSHA256].joined(separator: "\n"), signed)
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request").
    func signingKey(day: String) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ text: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
        }
        let secret = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        return hmac(hmac(hmac(hmac(secret, day), region), service), "aws4_request")
    }

    /// RFC 3986 encoding as SigV4 wants it: every byte but A-Z, a-z, 0-9, `-`, `_`, `.`, `~` as `%XX` (upper case).
    static func uriEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
