import Foundation
import Testing

/// Encrypted repositories as an operator uses them: `init --encrypt`, the password from a file, the environment or
/// a command, `velo key`, a wrong password's own exit status (12) and tampering's (3).
@Suite struct EncryptionCommandTests {
    @Test func anEncryptedRepositoryFromInitToRestore() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        let password = dir.appendingPathComponent("password").path
        try "correct horse battery\n".write(toFile: password, atomically: true, encoding: .utf8)
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "80"]).status == 0)

        let made = try VeloProcess.run(["init", "--repo", repo, "--encrypt", "--password-file", password, "--json"])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("\"encrypted\" : true") || made.stdout.contains("\"encrypted\": true"), "\(made.stdout)")
        let backup = try VeloProcess.run(["backup", "--db", db, "--repo", repo], environment: ["VELO_PASSWORD_FILE": password])
        #expect(backup.status == 0, "\(backup.stderr)")
        let byCommand = ["VELO_PASSWORD_COMMAND": "cat '\(password)'"]
        let listed = try VeloProcess.run(["snapshots", "--repo", repo], environment: byCommand)
        #expect(listed.status == 0 && listed.stdout.contains("(encrypted repository)"), "\(listed.stdout)\(listed.stderr)")
        let json = try VeloProcess.run(["snapshots", "--repo", repo, "--json"], environment: byCommand)
        #expect(json.stdout.contains("\"encrypted\" : true") || json.stdout.contains("\"encrypted\": true"))
        let inspect = try VeloProcess.run(["inspect", "--repo", repo, "latest"], environment: byCommand)
        #expect(inspect.status == 0 && inspect.stdout.contains(", encrypted)"), "\(inspect.stdout)")
        #expect(try VeloProcess.run(["verify", "--repo", repo, "--all"], environment: byCommand).status == 0)
        let target = dir.appendingPathComponent("restored.sqlite").path
        let restore = try VeloProcess.run(["restore", "--repo", repo, "latest", "--target", target], environment: byCommand)
        #expect(restore.status == 0, "\(restore.stderr)")

        // A wrong password: its own status and one line; none at all: a clear line (no terminal here).
        let wrong = dir.appendingPathComponent("wrong").path
        try "battery staple\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let refused = try VeloProcess.run(["snapshots", "--repo", repo, "--password-file", wrong])
        #expect(refused.status == 12 && refused.stderr.contains("wrong password"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1 && !refused.stderr.contains("battery"))
        let none = try VeloProcess.run(["snapshots", "--repo", repo])
        #expect(none.status == 1 && none.stderr.contains("--password-file"), "\(none.stderr)")
        let failing = try VeloProcess.run(["snapshots", "--repo", repo], environment: ["VELO_PASSWORD_COMMAND": "exit 3"])
        #expect(failing.status == 1 && failing.stderr.contains("VELO_PASSWORD_COMMAND failed"), "\(failing.stderr)")
        // Nothing in the repository is readable: its snapshots' rows are not in any file.
        let archives = try FileManager.default.subpathsOfDirectory(atPath: repo).filter { $0.hasSuffix(".tar.zst") }
        #expect(!archives.isEmpty)
        for archive in archives {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: repo + "/" + archive))
            #expect(bytes.prefix(8) == Data("VELOSEA1".utf8))
        }
    }

    @Test func keysChangeAndTamperingIsDamage() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        let first = dir.appendingPathComponent("first").path, second = dir.appendingPathComponent("second").path
        try "first\n".write(toFile: first, atomically: true, encoding: .utf8)
        try "second\n".write(toFile: second, atomically: true, encoding: .utf8)
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "60"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--encrypt", "--password-file", first]).status == 0)

        let added = try VeloProcess.run(["key", "add", "--repo", repo, "--password-file", first, "--new-password-file", second])
        #expect(added.status == 0 && added.stdout.contains("added"), "\(added.stderr)")
        let list = try VeloProcess.run(["key", "list", "--repo", repo, "--password-file", second, "--json"])
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(keys.count == 2 && keys.filter { $0["current"] as? Bool == true }.count == 1)
        let firstID = try #require(keys.first { $0["current"] as? Bool == false }?["id"] as? String)
        let removed = try VeloProcess.run(["key", "remove", "--repo", repo, "--password-file", second, String(firstID.prefix(5))])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try VeloProcess.run(["snapshots", "--repo", repo, "--password-file", first]).status == 12)
        let current = try VeloProcess.run(["key", "remove", "--repo", repo, "--password-file", second, "0"])
        #expect(current.status != 0)

        // A pack with a flipped bit: verify names it, exit 3; restore refuses and writes nothing.
        let packs = try FileManager.default.subpathsOfDirectory(atPath: repo).filter { $0.hasSuffix(".pack") }
        let pack = repo + "/" + packs[0]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: pack))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: pack))
        let verify = try VeloProcess.run(["verify", "--repo", repo, "--password-file", second, "--all"])
        #expect(
            verify.status == 3 && verify.stdout.contains(packs[0]) && verify.stdout.contains("fails authentication"), "\(verify.stdout)")
        let target = dir.appendingPathComponent("restored.sqlite").path
        let restore = try VeloProcess.run(["restore", "--repo", repo, "--password-file", second, "latest", "--target", target])
        #expect(restore.status == 3 && !FileManager.default.fileExists(atPath: target), "\(restore.stderr)")
        let plan = try VeloProcess.run(["plan", "--repo", repo, "--password-file", second, "latest", "--target", db])
        #expect(plan.status == 3 && plan.stdout.contains(packs[0]) && plan.stdout.contains("BLOCKED"), "\(plan.stdout)\(plan.stderr)")
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: pack))

        // An archive cut short, and a second snapshot's archive moved over the first's name: damage naming it.
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--password-file", second, "--full"]).status == 0)
        let archives = try FileManager.default.subpathsOfDirectory(atPath: repo).filter { $0.hasSuffix(".tar.zst") }.sorted()
        #expect(archives.count == 2)
        let (older, newer) = (repo + "/" + archives[0], repo + "/" + archives[1])
        let original = try Data(contentsOf: URL(fileURLWithPath: older))
        try original.prefix(original.count - 100).write(to: URL(fileURLWithPath: older))
        let cut = try VeloProcess.run(["verify", "--repo", repo, "--password-file", second, "--all"])
        #expect(cut.status == 3 && cut.stdout.contains(archives[0]), "\(cut.stdout)")
        try Data(contentsOf: URL(fileURLWithPath: newer)).write(to: URL(fileURLWithPath: older))
        let moved = try VeloProcess.run(["verify", "--repo", repo, "--password-file", second, "--all"])
        #expect(
            moved.status == 3 && moved.stdout.contains(archives[0]) && moved.stdout.contains("moved from another name"), "\(moved.stdout)")
        try original.write(to: URL(fileURLWithPath: older))

        // A key file edited: damage naming it, not a wrong password.
        let keyFile = try FileManager.default.subpathsOfDirectory(atPath: repo + "/keys").first { $0.hasSuffix(".json") }!
        let keyPath = repo + "/keys/" + keyFile
        let text = try String(contentsOfFile: keyPath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"r\" : 8", with: "\"r\" : 9").replacingOccurrences(of: "\"r\": 8", with: "\"r\": 9")
            .write(toFile: keyPath, atomically: true, encoding: .utf8)
        let edited = try VeloProcess.run(["snapshots", "--repo", repo, "--password-file", second])
        #expect(edited.status == 3 && edited.stderr.contains("keys/" + keyFile), "\(edited.stderr)")
    }

    /// docs/FORMAT.md's encryption is enough to read a snapshot without velo: an independent implementation (Python's
    /// `cryptography`, Tests/Fixtures/encryption/independent_decrypt.py) opens the key file with the password, decrypts
    /// the catalog entry and the archive, and its rows are the database's; the archive it wrote verifies.
    @Test func anIndependentImplementationDecryptsASnapshot() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import cryptography"]
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        guard check.terminationStatus == 0 else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "Python's cryptography is missing in CI (.ci/run installs it)")
            print("skipped: Python's cryptography is not installed (pip install cryptography): the independent decryption is not tested")
            return
        }
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        let password = dir.appendingPathComponent("password").path
        try "an independent reader\n".write(toFile: password, atomically: true, encoding: .utf8)
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "700"]).status == 0)
        let backup = try VeloProcess.run(
            ["backup", "--db", db, "--repo", repo, "--encrypt", "--full", "--include-framework", "--json"],
            environment: ["VELO_PASSWORD_FILE": password])
        #expect(backup.status == 0, "\(backup.stderr)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])?["id"] as? String)

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/encryption/independent_decrypt.py").path
        let plain = dir.appendingPathComponent("plain.tar.zst").path
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", script, repo, password, id, plain]
        let result = try VeloProcess.collect(python, environment: [:])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let rows = try #require(summary["rows"] as? [String: Int])
        for (table, count) in [("_velo_posts", 700), ("_velo_users", 35)] {
            #expect(rows[table] == count, "\(table): \(rows[table] ?? -1)")
        }
        let sqlite = try VeloProcess.run(["cat", plain, "_velo_posts", "--json"])
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        let verify = try VeloProcess.run(["verify", plain])
        #expect(verify.status == 0 && verify.stdout.contains(": ok"), "\(verify.stdout)\(verify.stderr)")
        // With the wrong password it opens nothing.
        let wrong = dir.appendingPathComponent("wrong").path
        try "not it\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        python.arguments = ["python3", script, repo, wrong, id, plain + ".2"]
        let refused = Process()
        refused.executableURL = python.executableURL
        refused.arguments = python.arguments
        #expect(try VeloProcess.collect(refused, environment: [:]).status != 0)
    }

    /// `velo copy` between repositories of different keys: plain into encrypted, encrypted into another encrypted
    /// one, and back into a plain one; each copy verifies and restores the same rows.
    @Test func copyBetweenKeysEncryptsAgain() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let plain = dir.appendingPathComponent("plain").path, a = dir.appendingPathComponent("a").path
        let b = dir.appendingPathComponent("b").path, back = dir.appendingPathComponent("back").path
        let pa = dir.appendingPathComponent("pa").path, pb = dir.appendingPathComponent("pb").path
        try "alpha\n".write(toFile: pa, atomically: true, encoding: .utf8)
        try "bravo\n".write(toFile: pb, atomically: true, encoding: .utf8)
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "400"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", plain, "--include-framework"]).status == 0)
        try Scratch.sqlite(db, "UPDATE _velo_posts SET title = 'renamed ' || rowid WHERE rowid % 5 = 0")
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", plain, "--include-framework"]).status == 0)

        let steps: [([String], String, String?)] = [
            (["--from-repo", plain, "--repo", a, "--encrypt", "--password-file", pa], a, pa),
            (["--from-repo", a, "--from-password-file", pa, "--repo", b, "--encrypt", "--password-file", pb], b, pb),
            (["--from-repo", b, "--from-password-file", pb, "--repo", back], back, nil),
        ]
        for (arguments, repo, password) in steps {
            let copy = try VeloProcess.run(["copy", "--all"] + arguments)
            #expect(copy.status == 0 && copy.stdout.contains("2 copied"), "\(copy.stdout)\(copy.stderr)")
            let access = password.map { ["--password-file", $0] } ?? []
            let verify = try VeloProcess.run(["verify", "--repo", repo, "--all"] + access)
            #expect(verify.status == 0 && verify.stdout.components(separatedBy: ": ok").count == 3, "\(verify.stdout)")
            let target = dir.appendingPathComponent("restored-\((repo as NSString).lastPathComponent).sqlite").path
            let restore = try VeloProcess.run(["restore", "--repo", repo, "latest", "--target", target] + access)
            #expect(restore.status == 0, "\(restore.stderr)")
            let renamed = try Scratch.sqlite(target, "SELECT count(*) FROM _velo_posts WHERE title LIKE 'renamed %'")
            #expect(renamed == "80", "\(repo): \(renamed)")
        }
        // Copying again stores nothing new.
        let again = try VeloProcess.run(["copy", "--all", "--from-repo", plain, "--repo", a, "--password-file", pa])
        #expect(again.status == 0 && again.stdout.contains("0 copied, 2 already there"), "\(again.stdout)")
    }

    /// `velo export` of an encrypted snapshot: sealed by default, read by verify, cat and inspect with the password;
    /// `--decrypt` gives the plaintext archive, the same whether from the repository or from the sealed file.
    @Test func exportsStayEncryptedUnlessDecrypted() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        let password = dir.appendingPathComponent("password").path
        try "export me\n".write(toFile: password, atomically: true, encoding: .utf8)
        let env = ["VELO_PASSWORD_FILE": password]
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "120"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--encrypt"], environment: env).status == 0)
        let sealed = dir.appendingPathComponent("sealed.tar.zst").path
        #expect(try VeloProcess.run(["export", "--repo", repo, "latest", "--out", sealed], environment: env).status == 0)
        let head = try Data(contentsOf: URL(fileURLWithPath: sealed))
        #expect(head.prefix(8) == Data("VELOEXP1".utf8))
        #expect(head.range(of: Data("_velo_posts".utf8)) == nil, "nothing of the rows is readable in the sealed export")

        let verify = try VeloProcess.run(["verify", sealed], environment: env)
        #expect(verify.status == 0 && verify.stdout.contains(": ok"), "\(verify.stdout)\(verify.stderr)")
        let cat = try VeloProcess.run(["cat", sealed, "_velo_posts"], environment: env)
        #expect(cat.status == 0 && cat.stdout.split(separator: "\n").count == 120, "\(cat.stderr)")
        let inspect = try VeloProcess.run(["inspect", sealed], environment: env)
        #expect(inspect.status == 0 && inspect.stdout.contains(", encrypted)"), "\(inspect.stdout)")
        let wrong = dir.appendingPathComponent("wrong").path
        try "nope\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        #expect(try VeloProcess.run(["verify", sealed, "--password-file", wrong]).status == 12)

        let plain = dir.appendingPathComponent("plain.tar.zst").path, again = dir.appendingPathComponent("again.tar.zst").path
        #expect(try VeloProcess.run(["export", "--repo", repo, "latest", "--decrypt", "--out", plain], environment: env).status == 0)
        #expect(try VeloProcess.run(["export", sealed, "--decrypt", "--out", again], environment: env).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: plain)) == Data(contentsOf: URL(fileURLWithPath: again)))
        #expect(try VeloProcess.run(["verify", plain]).status == 0)

        var damaged = head
        damaged[damaged.count / 2] ^= 0x04
        let bad = dir.appendingPathComponent("bad.tar.zst").path
        try damaged.write(to: URL(fileURLWithPath: bad))
        let refused = try VeloProcess.run(["verify", bad], environment: env)
        #expect(refused.status == 3 && refused.stdout.contains("fails authentication"), "\(refused.stdout)")
        // A repository's own file named as an archive: one line saying how it is read.
        let archive = try FileManager.default.subpathsOfDirectory(atPath: repo).first { $0.hasSuffix(".tar.zst") }!
        let direct = try VeloProcess.run(["verify", repo + "/" + archive], environment: env)
        #expect(direct.status == 1 && direct.stderr.contains("encrypted repository"), "\(direct.stderr)")
    }
}
