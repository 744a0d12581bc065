import ArgumentParser
import Foundation
import VeloKit

/// velo's exit statuses, decided here and nowhere else (README, "Exit status"):
///
/// | status | meaning |
/// |---|---|
/// | 0 | success |
/// | 1 | an error: a wrong file, name or value, a failed system call, an SQLite error |
/// | 3 | damage found, a plan that blocks, an unhealthy schema |
/// | 11 | the repository is locked by another velo (as restic) |
/// | 64 | a usage error: unknown options, values in the wrong form, options that exclude each other |
/// | 130 | interrupted by SIGINT or SIGTERM: stopped cleanly, nothing half-written is left |
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let damage: Int32 = 3
    static let locked: Int32 = 11
    static let usage: Int32 = 64
    static let interrupted: Int32 = 130

    /// The status for an error of this kind.
    static func of(_ kind: ErrorKind) -> Int32 {
        switch kind {
        case .usage: return usage
        case .damaged, .blocked, .unhealthy: return damage
        case .locked: return locked
        case .interrupted: return interrupted
        case .input, .io, .notVeloquent, .database: return failure
        }
    }

    /// A report command found damage, a blocking plan or an unhealthy schema: its report is the output.
    static var foundDamage: ExitCode { ExitCode(damage) }
}

/// An error as `--json` prints it on stdout: `{"error": {"kind", "message", "exit_status", …}}`.
struct ErrorReport: Encodable {
    struct Body: Encodable {
        var kind: String
        var message: String
        var exitStatus: Int32
        /// The errno of a failed system call.
        var errno: Int32?
        /// The archive and entry at fault, for damage.
        var archive: String?
        var entry: String?

        enum CodingKeys: String, CodingKey { case kind, message, exitStatus, errno, archive, entry }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(message, forKey: .message)
            try c.encode(exitStatus, forKey: .exitStatus)
            try c.encodeIfPresent(errno, forKey: .errno)
            try c.encodeIfPresent(archive, forKey: .archive)
            try c.encodeIfPresent(entry, forKey: .entry)
        }
    }

    var error: Body

    init(_ error: Error, kind: ErrorKind, status: Int32, message: String) {
        var body = Body(kind: kind.rawValue, message: message, exitStatus: status)
        if let velo = error as? VeloError { body.errno = velo.errno }
        if let damage = error as? ArchiveDamage { body.archive = damage.path; body.entry = damage.entry }
        self.error = body
    }
}
