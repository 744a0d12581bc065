import Foundation
import VeloFormat

/// The credentials S3 requests are signed with, from the usual places in the usual order (as the AWS CLI and
/// SDKs look): `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`), else the profile
/// `AWS_PROFILE` (or `default`) of `AWS_SHARED_CREDENTIALS_FILE` (or `~/.aws/credentials`).
enum S3Credentials {
    static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3RequestSigner.Credentials {
        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty {
            return .init(
                accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        let profile = environment["AWS_PROFILE"] ?? "default"
        let home = environment["HOME"] ?? NSHomeDirectory()
        let file = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        if let text = try? String(contentsOfFile: file, encoding: .utf8), let values = profileValues(text, profile: profile),
            let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"]
        {
            return .init(accessKeyID: key, secretAccessKey: secret, sessionToken: values["aws_session_token"])
        }
        throw VeloError(
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with \(file) (profile \(profile))",
            kind: .usage)
    }

    /// The `key = value` lines of `[profile]` in an INI credentials file.
    static func profileValues(_ text: String, profile: String) -> [String: String]? {
        var current: String?
        var values: [String: String] = [:]
        var found = false
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if current == profile { found = true }
                continue
            }
            guard current == profile, let equals = line.firstIndex(of: "=") else { continue }
            values[line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()] =
                line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return found ? values : nil
    }
}
