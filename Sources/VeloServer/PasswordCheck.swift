import HummingbirdBcrypt

/// Laravel's password hashes: bcrypt written `$2y$` (PHP's name for what OpenBSD calls `$2b$`: the same
/// algorithm). The C bcrypt velo links knows `$2a$` and `$2b$`, so `$2y$` is checked as `$2b$`.
enum PasswordCheck {
    /// Whether `password` matches `hash`. Anything that is not a bcrypt hash never matches.
    static func verify(_ password: String, hash: String) -> Bool {
        guard hash.hasPrefix("$2"), hash.utf8.count == 60, password.utf8.count <= 72 * 4 else { return false }
        let normalized = hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
        return Bcrypt.verify(password, hash: normalized)
    }

    /// A Laravel-style `$2y$` hash of `password` (for tests and onboarding tools).
    static func hash(_ password: String, cost: UInt8 = 10) -> String {
        let hash = Bcrypt.hash(password, cost: cost)
        return hash.hasPrefix("$2b$") ? "$2y$" + hash.dropFirst(4) : hash
    }
}
