import Crypto
import Foundation

/// Veloquent's login fingerprint (`Veloquent\Core\Domain\Auth\Support\Fingerprint`), stored with a token so that
/// Veloquent's new-login alert treats a login through velo as it treats its own: the SHA-256 (hex) of the
/// client's own id when it sends one (`X-Fingerprint`, `X-Device-ID` or `X-Client-ID`), else of its network
/// (an IPv4 address's first three octets, an IPv6 address's first four groups) and user agent, joined by `|`.
enum Fingerprint {
    static func generate(clientID: String?, ipAddress: String?, userAgent: String?) -> String {
        if let clientID, !clientID.isEmpty { return hex(clientID) }
        let ip = ipAddress ?? ""
        var network = ip
        if ip.contains(":") {
            network = ip.split(separator: ":", omittingEmptySubsequences: false).prefix(4).joined(separator: ":")
        } else {
            let octets = ip.split(separator: ".", omittingEmptySubsequences: false)
            if octets.count == 4 { network = octets.prefix(3).joined(separator: ".") }
        }
        return hex(network + "|" + (userAgent ?? ""))
    }

    static func hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
