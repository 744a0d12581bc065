import Foundation
import VeloFormat

/// Where an S3 repository is: the endpoint, the bucket, a key prefix inside it, the region and the addressing
/// style. Written as `s3:https://HOST[:PORT]/BUCKET[/PREFIX]` (path-style, any S3-compatible server) or
/// `s3://BUCKET[/PREFIX]` (the endpoint from `AWS_ENDPOINT_URL`, else AWS's regional one, virtual-hosted).
/// The region is `AWS_REGION` (or `AWS_DEFAULT_REGION`), else `us-east-1`; `VELO_S3_ADDRESSING=path|virtual`
/// chooses the style where the default does not fit.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    /// The endpoint's host (without the bucket, in either style).
    public var host: String
    public var port: Int?
    public var bucket: String
    /// Keys start with this (no leading or trailing `/`; empty for the bucket's root).
    public var prefix: String
    public var region: String
    /// Path-style (`host/bucket/key`) rather than virtual-hosted (`bucket.host/key`).
    public var pathStyle: Bool

    /// A location given part by part (a Laravel S3 disk's settings); `prefix` loses its outer `/`s.
    public init(scheme: String, host: String, port: Int?, bucket: String, prefix: String, region: String, pathStyle: Bool) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
        self.region = region
        self.pathStyle = pathStyle
    }

    /// Whether `text` names an S3 repository.
    public static func isS3(_ text: String) -> Bool { text.hasPrefix("s3:") }

    /// - Throws: `VeloError` (`.usage`) naming what is wrong with `text`.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func fail(_ why: String) -> VeloError {
            VeloError(
                "\(text): not an S3 repository (\(why)); write s3:https://HOST[:PORT]/BUCKET[/PREFIX] or s3://BUCKET[/PREFIX]", kind: .usage
            )
        }
        region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        var rest: Substring
        if text.hasPrefix("s3://") {
            rest = text.dropFirst(5)
            if let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"], !endpoint.isEmpty {
                guard let url = URL(string: endpoint), let scheme = url.scheme, let host = url.host else {
                    throw fail("AWS_ENDPOINT_URL is not a URL")
                }
                self.scheme = scheme
                self.host = host
                port = url.port
                pathStyle = true
            } else {
                scheme = "https"
                host = region == "us-east-1" ? "s3.amazonaws.com" : "s3.\(region).amazonaws.com"
                port = nil
                pathStyle = false
            }
        } else if text.hasPrefix("s3:http://") || text.hasPrefix("s3:https://") {
            let url = text.dropFirst(3)
            scheme = url.hasPrefix("https") ? "https" : "http"
            rest = url.dropFirst(scheme.count + 3)
            let authority = rest.prefix { $0 != "/" }
            rest = rest.dropFirst(authority.count)
            if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
                host = String(authority[..<colon])
                guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                    throw fail("the port is not a number")
                }
                port = number
            } else {
                host = String(authority)
                port = nil
            }
            guard !host.isEmpty else { throw fail("no host") }
            pathStyle = true
        } else {
            throw fail("it starts with neither s3:http(s):// nor s3://")
        }
        let parts = rest.split(separator: "/").map(String.init)
        guard let bucket = parts.first, !bucket.isEmpty else { throw fail("no bucket") }
        guard bucket.count >= 3, bucket.count <= 63,
            bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }), bucket.allSatisfy(\.isASCII)
        else { throw fail("'\(bucket)' is not a bucket name") }
        self.bucket = bucket
        prefix = parts.dropFirst().joined(separator: "/")
        if let style = environment["VELO_S3_ADDRESSING"] {
            guard style == "path" || style == "virtual" else { throw fail("VELO_S3_ADDRESSING is path or virtual") }
            pathStyle = style == "path"
        }
    }

    /// `host[:port]` as the Host header says it, with the bucket in it when virtual-hosted.
    public var hostHeader: String {
        let base = pathStyle ? host : "\(bucket).\(host)"
        return port.map { "\(base):\($0)" } ?? base
    }

    /// The request path (before encoding) of `key` (or of the bucket, for nil).
    public func path(for key: String?) -> String {
        let keyPath = key.map { "/" + $0 } ?? "/"
        return pathStyle ? "/\(bucket)\(key == nil ? "" : keyPath)" : keyPath
    }

    /// The object key of a repository-relative path.
    public func key(_ relativePath: String) -> String { prefix.isEmpty ? relativePath : "\(prefix)/\(relativePath)" }

    public var description: String {
        "s3:\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")/\(bucket)\(prefix.isEmpty ? "" : "/" + prefix)"
    }
}
