import Foundation
import VeloFormat

/// Whether the server honours `If-None-Match: *` on PUT, which velo's locks rely on (of two writers creating the
/// lock, exactly one may succeed). AWS S3, MinIO, SeaweedFS, moto and R2 do; some older or smaller servers
/// answer 200 and overwrite. velo asks once, with a probe object created twice (`locks/probe-<nonce>.json`, then
/// removed): a second 200 means the header is ignored. The answer is kept in the cache folder for a week.
///
/// Where the header is ignored, velo says so once and falls back to the rule restic's locks use: look, write,
/// wait, read back (`S3Storage.saveIfAbsent`). A lock that exists is never overwritten; of two writers that
/// both found none and wrote within the same moment, the one whose bytes the server kept after `settle` holds
/// the lock and the other backs off.
extension S3Storage {
    /// How long a writer waits before reading its lock back when the server ignores conditional writes.
    static let settle: Duration = .seconds(1)
    /// How long a probe's answer is trusted.
    static let probeValidity: TimeInterval = 7 * 86_400

    private static let answers = Answers()
    private final class Answers: @unchecked Sendable {
        let lock = NSLock()
        var byLocation: [String: Bool] = [:]
    }

    /// Whether the server honours `If-None-Match: *`: this process's answer, the cache's (under a week old), or
    /// a probe's (3 requests). A probe that fails on the network throws; the next call asks again.
    func conditionalWritesHonoured() throws -> Bool {
        if let known = Self.answers.lock.withLock({ Self.answers.byLocation[location] }) { return known }
        let file = cacheDirectory.map { ($0 as NSString).appendingPathComponent("conditional-writes") }
        if let file, let attributes = try? FileManager.default.attributesOfItem(atPath: file),
            let modified = attributes[.modificationDate] as? Date, Date().timeIntervalSince(modified) < Self.probeValidity,
            let text = try? String(contentsOfFile: file, encoding: .utf8)
        {
            let honoured = text.hasPrefix("honoured")
            Self.answers.lock.withLock { Self.answers.byLocation[location] = honoured }
            if !honoured { warnIgnored() }
            return honoured
        }
        var random = SystemRandomNumberGenerator()
        let key = s3.key("locks/probe-\(SnapshotID.random(using: &random)).json")
        let headers = [("If-None-Match", "*")]
        // (A 412 to the first: an attempt whose answer was lost created it.)
        _ = try client.send(.PUT, key: key, headers: headers, body: Array("{}".utf8), accept: [200, 412])
        let second = try client.send(.PUT, key: key, headers: headers, body: Array("{}".utf8), accept: [200, 409, 412])
        _ = try? client.send(.DELETE, key: key, accept: [200, 204, 404])
        // A 412 after a lost first answer still means honoured: the retry found the first attempt's object.
        let honoured = second.status != 200
        Self.answers.lock.withLock { Self.answers.byLocation[location] = honoured }
        if let file, let directory = cacheDirectory {
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try? (honoured ? "honoured\n" : "ignored\n").write(toFile: file, atomically: true, encoding: .utf8)
        }
        if !honoured { warnIgnored() }
        return honoured
    }

    private func warnIgnored() {
        Diagnostics.warn(
            "\(location): the server ignores conditional writes (If-None-Match); locks fall back to look, write, wait 1 s "
                + "and read back (docs/COMMANDS.md, \"Servers that ignore conditional writes\")")
    }

    /// `saveIfAbsent` on a server that ignores `If-None-Match`: nothing is written over an existing object; a lock
    /// (or the repository's identity) is read back after `settle` and is this call's only if the server kept these
    /// bytes. Other objects are named by their content: writing one twice writes the same bytes.
    func saveIfAbsentByReadBack(_ name: StoredName, key: String, _ bytes: [UInt8]) throws -> Bool {
        if try client.send(.HEAD, key: key, accept: [200, 404]).status == 200 { return false }
        // Still asked: a server that honours it after all (a probe's answer is a week old) writes nothing over another's.
        let response = try client.send(.PUT, key: key, headers: [("If-None-Match", "*")], body: bytes, accept: [200, 409, 412])
        if response.status != 200 { return false }
        guard name.kind == .lock || name.kind == .config else {
            remember(name, wrote: bytes, etag: response.header("ETag"))
            return true
        }
        try Interruption.check()
        usleep(useconds_t(Self.settle.components.seconds * 1_000_000))
        try Interruption.check()
        let back = try client.send(.GET, key: key, accept: [200, 404])
        guard back.status == 200, back.body == bytes else { return false }
        remember(name, wrote: bytes, etag: back.header("ETag"))
        return true
    }
}
