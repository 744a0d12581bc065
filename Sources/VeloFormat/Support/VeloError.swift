/// What kind of failure an error is: what a script decides on, and what the CLI turns into an exit status in
/// one place. The library itself never chooses exit statuses.
public enum ErrorKind: String, Sendable, Codable, CaseIterable {
    /// Arguments that do not fit together, or a value given in the wrong form.
    case usage
    /// A file, name or value that is wrong: a missing database, an unknown snapshot, a bad policy.
    case input
    /// The system refused an operation (the error carries its errno).
    case io
    /// An archive, a catalog entry or a repository marker is damaged.
    case damaged
    /// A plan blocks: nothing was changed.
    case blocked
    /// A database's schema does not match its metadata.
    case unhealthy
    /// The repository is locked by another velo.
    case locked
    /// The database is SQLite but not Veloquent's.
    case notVeloquent = "not_veloquent"
    /// SQLite reported an error.
    case database
    /// SIGINT or SIGTERM stopped the operation; what it had started was undone.
    case interrupted
    /// The password opens none of an encrypted repository's key files: nothing was read or written.
    case wrongPassword = "wrong_password"
}

/// An error that knows its kind. Every error VeloKit throws on purpose conforms; its description is one line
/// naming the file, entry, table or row at fault, in the library's own words: it never names a command-line
/// flag (what can be done about it is `remedy`, which each front door words itself).
public protocol VeloFailure: Error, CustomStringConvertible, Sendable {
    var kind: ErrorKind { get }
    /// What would get past the failure, when something would.
    var remedy: Remedy? { get }
    /// The setting at fault, when one is (snake_case: `system_tables`, `jobs`): the CLI names its flag, the
    /// server its request field.
    var setting: String? { get }
    /// The failure for a client of `velo serve`, who must not learn the server's layout: no file path (a file is
    /// named by its last component), no SQL. Types with structured fields build it from them.
    var clientDescription: String { get }
}

extension VeloFailure {
    public var remedy: Remedy? { nil }
    public var setting: String? { nil }
    public var clientDescription: String { ClientText.scrub(description) }
}

/// What would get past a failure, said by each front door in its own words (the CLI names its flags, the server
/// its request fields): the library knows what is needed, not how it is asked for.
public enum Remedy: Sendable, Equatable {
    /// Wait longer for another process's lock on the database (or try again).
    case waitLonger
    /// Name a repository for the snapshot a change takes first, or change without that snapshot.
    case nameRepositoryOrSkipSafetySnapshot
    /// Name a repository.
    case nameRepository
    /// Create a repository at `path`.
    case createRepository(path: String)
    /// Confirm that what exists may be replaced.
    case replace
    /// Remove the lock of `repository` left by a process that is gone.
    case removeStaleLock(repository: String)
    /// Remove the lock of `repository` whatever its owner, once sure no velo runs.
    case forceUnlock(repository: String)
    /// Restore into a named database file instead of an app.
    case restoreIntoTarget
    /// Give the password of the encrypted repository at `repository`.
    case givePassword(repository: String)
    /// Switch the database to write-ahead logging once, which continuous capture reads.
    case switchToWAL
    /// Restore into a database file that does not exist yet (a point-in-time copy is never merged).
    case restoreIntoNewFile
    /// Name which captured source is meant.
    case nameTheSource
}

extension Error {
    /// The kind of any error: its own when it is a `VeloFailure`, `.input` otherwise.
    public var veloKind: ErrorKind { (self as? VeloFailure)?.kind ?? .input }
}

/// A failure with a message meant for the person at the terminal: one line naming the file, entry, table or row
/// at fault, and its kind.
public struct VeloError: VeloFailure {
    public let message: String
    public let kind: ErrorKind
    /// The errno of the system call that failed, for `.io`.
    public let errno: Int32?
    public let remedy: Remedy?
    public let setting: String?

    /// - Parameters:
    ///   - message: one line naming what is at fault.
    ///   - kind: what kind of failure it is (`.input` unless said).
    ///   - errno: the errno of a failed system call.
    ///   - remedy: what would get past it.
    ///   - setting: the setting at fault (snake_case), whose name the message does not repeat.
    public init(_ message: String, kind: ErrorKind = .input, errno: Int32? = nil, remedy: Remedy? = nil, setting: String? = nil) {
        self.message = message
        self.kind = kind
        self.errno = errno
        self.remedy = remedy
        self.setting = setting
    }

    /// A failed system call on `path`: the message names the path, the call and `strerror(code)`.
    public static func io(_ path: String, _ call: String, errno code: Int32) -> VeloError {
        VeloError("\(path): \(call) failed: \(String(cString: strerror(code)))", kind: .io, errno: code)
    }

    public var description: String { message }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
