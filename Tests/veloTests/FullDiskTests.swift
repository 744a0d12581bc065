import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// A repository on a tiny tmpfs: a full disk mid-backup leaves no archive, no partial file and no catalog entry.
@Suite(.serialized) struct FullDiskTests {
    static func sh(_ command: String) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Mounting needs root and a kernel that allows it here; elsewhere the test is skipped.
    static let mountPoint: String? = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("velo-fulldisk-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard sh("mount -t tmpfs -o size=200k tmpfs \(dir)") == 0 else { return nil }
        _ = sh("umount \(dir)")
        return dir
    }()

    @Test(.enabled(if: FullDiskTests.mountPoint != nil, "cannot mount a tmpfs here (needs root): the full-disk test is skipped"))
    func aFullDiskLeavesNothingBehind() throws {
        let mount = try #require(Self.mountPoint)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("velo-fulldisk-db-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Both journal modes read the database in place: 200 KiB is too small for either archive (about 420 KiB).
        for journal in ["wal", "delete"] {
            let size = "200k"
            let db = dir.appendingPathComponent("\(journal).sqlite").path
            #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "2000", "--journal-mode", journal, "--force"]).status == 0)
            // A full archive, and the default incremental snapshot (packs and lists in data/, on worker threads).
            for mode in [["--full"], []] {
                try #require(Self.sh("mount -t tmpfs -o size=\(size) tmpfs \(mount)") == 0)
                defer { _ = Self.sh("umount \(mount)") }
                let repo = mount + "/repo"
                let result = try VeloProcess.run(["backup"] + mode + ["--db", db, "--repo", repo])
                #expect(result.status == 1, "\(journal) \(mode): \(result.stdout)")
                #expect(result.stderr.contains("No space left on device") || result.stderr.contains("disk is full"), "\(result.stderr)")
                let files = (FileManager.default.enumerator(atPath: repo)?.allObjects as? [String] ?? []).filter {
                    $0.hasSuffix(".zst") || $0.hasSuffix(".partial") || $0.contains(".tmp-") || $0.hasPrefix("catalog/")
                        || $0.hasPrefix("tmp/")
                        || $0.hasSuffix(".pack") || $0.hasSuffix(".list") || $0.contains(".tmp-")
                }.filter { !FileSystemPaths.isDirectory(repo + "/" + $0) }
                #expect(files.isEmpty, "\(journal) \(mode): left behind \(files)")
                // No trail of empty piece folders (issue 30, hole 5): a `data/packs/<hh>` or `data/lists/<hh>` made for a
                // piece that could not be written goes with it.
                let emptyFolders = (FileManager.default.enumerator(atPath: repo + "/data")?.allObjects as? [String] ?? []).filter {
                    $0.split(separator: "/").count == 2 && FileSystemPaths.isDirectory(repo + "/data/" + $0)
                        && (try? FileManager.default.contentsOfDirectory(atPath: repo + "/data/" + $0))?.isEmpty == true
                }
                #expect(emptyFolders.isEmpty, "\(journal) \(mode): empty folders left in data/: \(emptyFolders)")
            }
        }
    }
}

enum FileSystemPaths {
    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
