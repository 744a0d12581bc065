import Crypto
import Foundation
import Testing

@testable import VeloStorage

/// SigV4 as S3 checks it: AWS's published examples for S3 (the signing examples of the S3 API reference), and
/// botocore's signer (the reference implementation every AWS SDK matches) on requests with the awkward parts:
/// keys with spaces, `$`, `+`, unicode and `/`, repeated and empty query parameters, headers with runs of spaces,
/// a session token.
@Suite struct S3RequestSignerTests {
    static let exampleKeys = S3RequestSigner.Credentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    static func signature(_ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == "Authorization" }?.1.components(separatedBy: "Signature=").last
    }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The S3 API reference's four examples (GET an object with a range, PUT an object, GET a bucket's
    /// lifecycle, list objects), with the signatures AWS publishes for them.
    @Test func awsPublishedS3Examples() {
        let signer = S3RequestSigner(credentials: Self.exampleKeys, region: "us-east-1")
        let host = "examplebucket.s3.amazonaws.com"
        let cases: [(S3RequestSigner.Request, String)] = [
            (
                .init(
                    method: "GET", path: "/test.txt", headers: [("Range", "bytes=0-9")], host: host,
                    payloadSHA256: S3RequestSigner.emptyPayloadSHA256),
                "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            ),
            (
                .init(
                    method: "PUT", path: "/test$file.text",
                    headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")], host: host,
                    payloadSHA256: Self.sha256("Welcome to Amazon S3.")),
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
            ),
            (
                .init(method: "GET", path: "/", query: [("lifecycle", "")], host: host, payloadSHA256: S3RequestSigner.emptyPayloadSHA256),
                "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
            ),
            (
                .init(
                    method: "GET", path: "/", query: [("max-keys", "2"), ("prefix", "J")], host: host,
                    payloadSHA256: S3RequestSigner.emptyPayloadSHA256),
                "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
            ),
        ]
        for (request, expected) in cases {
            let headers = signer.signedHeaders(for: request, at: Self.exampleDate)
            #expect(Self.signature(headers) == expected, "\(request.method) \(request.path)")
        }
    }

    /// The same signatures as botocore's, on requests a repository makes and on awkward ones.
    @Test func matchesBotocore() throws {
        let python = "/usr/bin/env"
        guard Self.hasBotocore(python) else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "botocore is missing in CI (.ci/run installs it)")
            print("skipped: botocore is not installed (pip install botocore): velo's SigV4 is not compared with botocore's")
            return
        }
        let credentials = [
            S3RequestSigner.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            S3RequestSigner.Credentials(accessKeyID: "ASIAEXAMPLE", secretAccessKey: "secret/with+odd=chars", sessionToken: "token+/="),
        ]
        let bodies = ["", "{\"format\":\"velo-repository\"}", String(repeating: "x", count: 70_000)]
        let requests: [(String, String, [(String, String)], [(String, String)], Int)] = [
            ("GET", "/bucket/velo/catalog/0123456789abcdef.json", [], [], 0),
            ("PUT", "/bucket/velo/data/packs/ab/ab01.pack", [], [("If-None-Match", "*")], 2),
            ("GET", "/bucket", [("list-type", "2"), ("prefix", "velo/catalog/"), ("continuation-token", "1/abc+def==")], [], 0),
            ("GET", "/bucket/a key with spaces/$and+plus/ü.json", [], [("Range", "bytes=10-20")], 0),
            ("POST", "/bucket/velo/snapshots/x.tar.zst", [("uploads", "")], [("Content-Type", "application/octet-stream")], 0),
            ("PUT", "/bucket/velo/snapshots/x.tar.zst", [("partNumber", "2"), ("uploadId", "a~b_c.d-e")], [], 1),
            ("DELETE", "/bucket/velo/locks/exclusive.json", [], [("X-Amz-Meta-Owner", "  host   pid 12 ")], 0),
            ("GET", "/bucket", [("prefix", "a"), ("prefix", "b"), ("delimiter", "/")], [], 0),
        ]
        var items: [[String: Any]] = []
        var ours: [String] = []
        for (i, (method, path, query, headers, body)) in requests.enumerated() {
            let creds = credentials[i % 2]
            let region = i % 3 == 0 ? "us-east-1" : "eu-central-1"
            let date = Date(timeIntervalSince1970: 1_765_000_000 + Double(i) * 3_601)
            let payload = bodies[body]
            let signer = S3RequestSigner(credentials: creds, region: region)
            let request = S3RequestSigner.Request(
                method: method, path: path, query: query, headers: headers, host: "127.0.0.1:8333", payloadSHA256: Self.sha256(payload))
            let signed = signer.signedHeaders(for: request, at: date)
            ours.append(signed.first { $0.0 == "Authorization" }!.1)
            // The same request as the URL velo sends (each path segment and query part encoded once, as signed).
            let encodedPath = path.split(separator: "/", omittingEmptySubsequences: false)
                .map { S3RequestSigner.uriEncode(String($0)) }.joined(separator: "/")
            let encodedQuery = query.map { "\(S3RequestSigner.uriEncode($0.0))=\(S3RequestSigner.uriEncode($0.1))" }.joined(separator: "&")
            let url = "http://127.0.0.1:8333" + encodedPath + (query.isEmpty ? "" : "?" + encodedQuery)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
            formatter.timeZone = TimeZone(identifier: "UTC")
            items.append([
                "method": method, "url": url, "headers": headers.map { [$0.0, $0.1] },
                "body_hex": Data(payload.utf8).map { String(format: "%02x", $0) }.joined(), "region": region,
                "access_key": creds.accessKeyID, "secret_key": creds.secretAccessKey, "token": creds.sessionToken as Any,
                "time": String(formatter.string(from: date).prefix(19)),
            ])
        }
        let theirs = try Self.botocore(python, items)
        #expect(theirs.count == ours.count)
        for (i, (a, b)) in zip(ours, theirs).enumerated() {
            #expect(a == b, "request \(i) (\(requests[i].0) \(requests[i].1)): velo \(a)\nbotocore \(b)")
        }
    }

    static func hasBotocore(_ python: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["python3", "-c", "import botocore.auth"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static func botocore(_ python: String, _ items: [[String: Any]]) throws -> [String] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/s3/botocore_sign.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["python3", script]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: items))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "botocore_sign.py failed")
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
