import ArgumentParser
import Foundation
import VeloKit

/// velo's exit statuses, decided here and nowhere else (docs/COMMANDS.md, "Exit status"):
///
/// | status | meaning |
/// |---|---|
/// | 0 | success |
/// | 1 | an error: a wrong file, name or value, a failed system call, an SQLite error |
/// | 3 | damage found, a plan that blocks, an unhealthy schema |
/// | 11 | the repository is locked by another velo (as restic) |
/// | 12 | wrong password: it opens none of an encrypted repository's key files (as restic); nothing was read or written |
/// | 64 | a usage error: unknown options, values in the wrong form, options that exclude each other |
/// | 130 | interrupted by SIGINT or SIGTERM: stopped cleanly, nothing half-written is left |
///
/// `velo status` follows the monitoring-plugin convention instead: 0 ok, 1 warning, 2 critical, 3 unknown (it
/// could not answer).
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let damage: Int32 = 3
    static let locked: Int32 = 11
    static let wrongPassword: Int32 = 12
    static let usage: Int32 = 64
    static let interrupted: Int32 = 130
    /// `velo status`: a source needs attention (never verified, or not recently).
    static let warning: Int32 = 1
    /// `velo status`: a source is stale, its verification failed, or the catalog is damaged.
    static let critical: Int32 = 2
    /// `velo status`: the check could not answer.
    static let unknown: Int32 = 3

    /// The status for an error of this kind.
    static func of(_ kind: ErrorKind) -> Int32 {
        switch kind {
        case .usage: return usage
        case .damaged, .blocked, .unhealthy: return damage
        case .locked: return locked
        case .wrongPassword: return wrongPassword
        case .interrupted: return interrupted
        case .input, .io, .notVeloquent, .database: return failure
        }
    }

    /// A report command found damage, a blocking plan or an unhealthy schema: its report is the output.
    static var foundDamage: ExitCode { ExitCode(damage) }
}

/// A command that answers a monitoring system: its errors exit with `ExitStatus.unknown` (3), not 1.
protocol MonitoringCheck {}
