import Foundation
import Testing

@testable import VeloServer

/// A request's private folder is named after the server's process, so that a server started after one that was
/// killed (kill -9 in the middle of an export) removes what it left, and nothing of a live server.
@Suite struct TemporaryFolderTests {
    @Test func foldersOfStoppedServersAreRemovedAndOthersKept() throws {
        let directory = try TemporaryFolder.make()  // a private place to play the temporary directory
        defer { TemporaryFolder.remove(directory) }
        let own = try TemporaryFolder.make(in: directory)
        #expect((own as NSString).lastPathComponent.hasPrefix("velo-serve-\(getpid())-"))
        var info = stat()
        #expect(stat(own, &info) == 0 && info.st_mode & 0o777 == 0o700)

        // A process that has ended: its pid is past any pid the kernel gives (pid_max is at most 2^22).
        let gone = (directory as NSString).appendingPathComponent("velo-serve-99999999-Ab12Cd")
        try FileManager.default.createDirectory(atPath: gone, withIntermediateDirectories: false)
        try Data("a payload".utf8).write(to: URL(fileURLWithPath: gone + "/payload.json"))
        // Without a process in its name (an older velo's), and not velo's at all: kept.
        let unnamed = (directory as NSString).appendingPathComponent("velo-serve-Ab12Cd")
        let other = (directory as NSString).appendingPathComponent("something-else-1")
        for path in [unnamed, other] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) }

        #expect(TemporaryFolder.removeAbandoned(in: directory) == [gone])
        #expect(!FileManager.default.fileExists(atPath: gone))
        for path in [own, unnamed, other] { #expect(FileManager.default.fileExists(atPath: path), "\(path) is kept") }
    }
}
