import VeloKit

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
