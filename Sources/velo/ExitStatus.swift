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
