import ArgumentParser
import Foundation
import VeloKit

extension TableCat.Format: ExpressibleByArgument {}

struct CatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Stream one table of a snapshot (by collection or table name) as NDJSON or CSV.",
        discussion: """
            NDJSON rows are objects, keys in column order, values in the archive's lossless encoding (blobs as {"$blob": base64}). CSV has a header row; NULL is an empty field and blobs are base64.
            """)

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var filter: SnapshotFilterOptions

    @Argument(
        help: ArgumentHelp(
            "An id, id prefix, 'latest', or the path of an archive file (with --at, the table instead).", valueName: "snapshot"))
    var snapshot: String

    @Argument(help: ArgumentHelp("A collection name (e.g. posts) or a table name (e.g. _velo_posts, settings).", valueName: "table"))
    var table: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write one uploaded file of the snapshot instead of a table, its bytes as they were (e.g. uploads/collections/posts/<uuid>.png).",
            valueName: "path"))
    var file: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A moment of continuous capture (velo replicate) instead of a snapshot, e.g. 2026-12-06T10:58:30Z: the table as it was then (of --source, or the only source captured).",
            valueName: "time"))
    var at: String?

    @Option(name: .long, help: "The output format.")
    var format: TableCat.Format = .ndjson

    @OptionGroup var output: OutputOptions

    func run() throws {
        if let at {
            // `velo cat --at TIME TABLE`: the only positional is the table.
            guard table == nil, file == nil else {
                throw VeloError("with --at, name the table only: velo cat --at TIME TABLE", kind: .usage)
            }
            let time = try Timestamp.parseMilliseconds(at, option: "--at")
            guard let repo = try repository.openIfGiven() else {
                throw VeloError("--at reads continuous capture: name the repository with --repo", kind: .usage)
            }
            let moment = try MomentSnapshot(source: filter.source, at: time, repository: repo)
            try withExtendedLifetime(moment) {  // its folder holds the snapshot
                try TableCat.run(moment.selected, table: snapshot, format: format, manifest: nil, output: Self.writeOut)
            }
            return
        }
        guard (table == nil) != (file == nil) else { throw VeloError("name a table or --file PATH (one of them)", kind: .usage) }
        let selected = try SelectedSnapshot.resolve(
            snapshot, repository: try repository.openIfGiven(), filter: filter.filter(), password: repository.password)
        if let file {
            try FileCat.run(selected, file: file, write: Self.writeOut)
            return
        }
        guard let table else { return }
        var manifest: Manifest?
        if case .catalogued(let entry, let repo) = selected { manifest = try repo.catalog.detail(entry.id).manifest }
        try TableCat.run(selected, table: table, format: format, manifest: manifest, output: Self.writeOut)
    }

    /// Writes to stdout; a closed pipe (`| head`) ends velo quietly.
    static func writeOut(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw ExitCode.success }
                throw VeloError("stdout: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }
}
