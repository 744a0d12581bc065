import Foundation
import VeloStorage

/// How a repository is opened: the password of an encrypted one, and, for a new one, whether it is encrypted.
public struct RepositoryAccess: Sendable {
    /// Where the password comes from; nil when none is available (an encrypted repository then cannot be opened).
    public var password: PasswordSource?
    /// Create a new repository encrypted (with `create`); an existing one is never converted.
    public var encrypt: Bool
    /// scrypt's parameters for a new key file; nil to calibrate them on this machine (at most 0.4 s).
    public var scrypt: ScryptParameters?

    public init(password: PasswordSource? = nil, encrypt: Bool = false, scrypt: ScryptParameters? = nil) {
        self.password = password
        self.encrypt = encrypt
        self.scrypt = scrypt
    }
}
