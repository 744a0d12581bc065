import ArgumentParser
import VeloKit

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a snapshot as one self-contained full archive (format version 1).",
        discussion: """
            An incremental snapshot's rows are rebuilt from the repository, each part checked against the snapshot's manifest, into a standard tar.zst archive that tar, zstd, jq and sha256sum alone can check and that any velo reads without the repository. The file appears only when complete. Exit status 3 when the snapshot or a piece it uses is damaged.
            """)

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var filter: SnapshotFilterOptions

    @Argument(help: ArgumentHelp("The snapshot: an id, an id prefix, 'latest' or an archive path.", valueName: "snapshot"))
    var snapshot: String = "latest"

    @Option(name: .long, help: ArgumentHelp("The archive to write (must not exist).", valueName: "file"))
    var out: String

    @Option(
        name: .long, help: "zstd compression level, 1 to 19; at 3 velo compresses with tuned parameters (fast matching, a 4 MiB window).")
    var level: Int32 = 3

    @Flag(
        name: .long,
        help:
            "Write the plaintext archive of a snapshot of an encrypted repository (or of an encrypted export); without it, such a snapshot is written encrypted, with what opens it, for velo verify, cat and inspect to read with its password."
    )
    var decrypt = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...19).contains(level) else { throw ValidationError("--level must be 1 to 19 (zstd levels), not \(level)") }
    }

    func run() throws {
        let selected = try SelectedSnapshot.resolve(
            snapshot, repository: try repository.openIfGiven(), filter: filter.filter(), password: repository.password)
        let result = try SnapshotExport.run(selected, out: out, level: level, decrypt: decrypt)
        if output.json { try Output.json(result); return }
        print(
            "snapshot \(result.id) exported: \(Output.grouped(result.rows)) rows in \(result.entries) entries, \(Output.bytes(result.bytes))"
        )
        print("  \(result.out)")
    }
}
