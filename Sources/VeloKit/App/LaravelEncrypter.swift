import Crypto
import Foundation
import VeloFormat
import _CryptoExtras

/// Reads what Laravel's `Crypt::encryptString` wrote with the app's `APP_KEY` (or one of `APP_PREVIOUS_KEYS`):
/// a tenant's S3 key and secret in its storage settings (Veloquent's `EncryptedSettingsCast`). The payload is
/// base64 of a JSON object with `iv`, `value` (base64 ciphertext), `mac` and `tag`: AES-CBC (256 or 128 bits, by
/// the key's length) whose HMAC-SHA256 of `iv . value` must match `mac`, or AES-GCM whose `tag` authenticates it.
/// velo only decrypts; it never writes a setting.
package struct LaravelEncrypter: Sendable {
    let keys: [SymmetricKey]

    /// The keys of an app's `.env`: `APP_KEY` first, then `APP_PREVIOUS_KEYS` (comma-separated), each raw or
    /// `base64:`; nil when the app has no usable key.
    package init?(environment: AppEnvironment) {
        var texts: [String] = []
        if let key = environment["APP_KEY"], !key.isEmpty { texts.append(key) }
        texts += (environment["APP_PREVIOUS_KEYS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let keys: [SymmetricKey] = texts.compactMap { text in
            let bytes: [UInt8]
            if text.hasPrefix("base64:") {
                guard let data = Data(base64Encoded: String(text.dropFirst(7))) else { return nil }
                bytes = Array(data)
            } else {
                bytes = Array(text.utf8)
            }
            return bytes.count == 16 || bytes.count == 32 ? SymmetricKey(data: bytes) : nil
        }
        guard !keys.isEmpty else { return nil }
        self.keys = keys
    }

    /// The plaintext of `payload`, or nil when it is not a payload one of the keys opens (Veloquent then uses
    /// the setting as it is, a value saved before it was encrypted).
    package func decryptString(_ payload: String) -> String? {
        guard let json = Data(base64Encoded: payload),
            let object = try? JSONParser.parse(Array(json)),
            let ivText = object["iv"]?.stringValue, let valueText = object["value"]?.stringValue,
            let iv = Data(base64Encoded: ivText), let value = Data(base64Encoded: valueText)
        else { return nil }
        let mac = object["mac"]?.stringValue ?? ""
        let tag = (object["tag"]?.stringValue).flatMap { $0.isEmpty ? nil : Data(base64Encoded: $0) }
        for key in keys {
            let plaintext: Data?
            if let tag {
                plaintext = try? AES.GCM.open(AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: value, tag: tag), using: key)
            } else {
                let expected = HMAC<SHA256>.authenticationCode(for: Data((ivText + valueText).utf8), using: key)
                guard Data(expected).map({ String(format: "%02x", $0) }).joined() == mac.lowercased() else { continue }
                plaintext = try? AES._CBC.decrypt(value, using: key, iv: AES._CBC.IV(ivBytes: iv))
            }
            if let plaintext, let text = String(data: plaintext, encoding: .utf8) { return text }
        }
        return nil
    }
}
