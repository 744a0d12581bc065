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
}

/// An error that knows its kind. Every error VeloKit throws on purpose conforms; its description is one line
/// naming the file, entry, table or row at fault.
public protocol VeloFailure: Error, CustomStringConvertible, Sendable {
    var kind: ErrorKind { get }
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

    /// - Parameters:
    ///   - message: one line naming what is at fault.
    ///   - kind: what kind of failure it is (`.input` unless said).
    ///   - errno: the errno of a failed system call.
    public init(_ message: String, kind: ErrorKind = .input, errno: Int32? = nil) {
        self.message = message
        self.kind = kind
        self.errno = errno
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
