import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The library's errors speak its own words: no command-line flag in any message it builds (the CLI adds them
/// from `setting` and `remedy`), and `clientDescription` names no server path and quotes no SQL.
@Suite struct ErrorWordingTests {
    @Test func clientWordsKeepFileNamesAndDropFoldersAndSQL() {
        let cases: [(String, String)] = [
            (
                "/srv/acme/database/t.sqlite: table auth_tokens has no column named ip_address [in: INSERT INTO \"auth_tokens\" (...)]",
                "t.sqlite: table auth_tokens has no column named ip_address"
            ),
            ("/tmp/r/snapshots/2026/12/x.tar.zst: entry manifest.json: is missing", "x.tar.zst: entry manifest.json: is missing"),
            ("piece data/lists/ab/ab12.list is missing", "piece data/lists/ab/ab12.list is missing"),
            ("no repository (it is '/var/lib/velo/acme')", "no repository (it is 'acme')"),
            ("a/b and 3/4 stay", "a/b and 3/4 stay"),
        ]
        for (text, expected) in cases { #expect(ClientText.scrub(text) == expected, "\(text)") }
        let sqlite = SQLiteError(code: 1, message: "no such table: x", path: "/srv/a/t.sqlite", sql: "SELECT * FROM x")
        #expect(sqlite.clientDescription == "t.sqlite: no such table: x")
        #expect(VeloError("x", remedy: .waitLonger).remedy == .waitLonger && VeloError("x").setting == nil)
    }

    /// A scan of the library's sources (every layer under the CLI and the server): no string that builds an
    /// error names a flag.
    @Test func noLibraryErrorNamesACommandLineFlag() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../Sources").standardized
        var files: [String] = []
        for layer in ["VeloFormat", "VeloStorage", "VeloRepository", "VeloKit"] {
            files += try #require(FileManager.default.enumerator(atPath: root.appendingPathComponent(layer).path)).compactMap {
                $0 as? String
            }.filter { $0.hasSuffix(".swift") }.map { layer + "/" + $0 }
        }
        let sources = root
        #expect(files.count > 150)
        var offenders: [String] = []
        for file in files {
            let lines = try String(contentsOfFile: sources.appendingPathComponent(file).path, encoding: .utf8).split(separator: "\n")
            for (number, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                guard line.range(of: #""[^"]*(^|[\s('])--[a-z][^"]*""#, options: .regularExpression) != nil else { continue }
                // A message a failure or a warning is built from: its constructor on this line or the two before.
                let context = lines[max(0, number - 2)...number].joined(separator: "\n")
                let builders = ["VeloError(", "ArchiveDamage(", "FormatProblem(", "Diagnostics.warn(", "throw "]
                if builders.contains(where: context.contains) { offenders.append("\(file):\(number + 1)") }
            }
        }
        #expect(offenders.isEmpty, "errors naming flags: \(offenders)")
    }
}
