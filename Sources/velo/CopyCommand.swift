import ArgumentParser
import Foundation
import VeloKit

struct CopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy snapshots from another repository into this one, storing only what it lacks.",
        discussion: """
            For a local repository that restores fast plus an off-site one (3-2-1): 'velo copy --from-repo /var/backups/velo --repo s3:https://HOST/BUCKET/PREFIX --all' after each backup copies the new snapshots only; snapshots the destination holds already are skipped, and pieces the destination has are not sent again. Objects are stored data first, catalog entry last, so an interrupted copy leaves nothing catalogued that points at missing data; run it again to finish. A source object that does not match its checksum is refused, never copied. The destination (--repo) is created when missing.
            """)

    @Option(
        name: .long,
        help: ArgumentHelp("The repository to copy from: a folder or an s3: location.", valueName: "dir"), completion: .directory)
    var fromRepo: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The source repository's password, when it is encrypted: this file's first line (default: as for --password-file).",
            valueName: "path"), completion: .file())
    var fromPasswordFile: String?

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var encryption: EncryptOption

    @Argument(help: ArgumentHelp("Snapshots of the source: ids, id prefixes or 'latest'.", valueName: "snapshot"))
    var snapshots: [String] = []

    @Flag(name: .long, help: "Copy every snapshot of the source (with --tag or --source, every one that matches).")
    var all = false

    @OptionGroup var filter: SnapshotFilterOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if snapshots.isEmpty && !all && filter.tag.isEmpty && filter.source == nil {
            throw ValidationError("name the snapshots to copy, or pass --all (or --tag T / --source PATH for those that match)")
        }
        if all && !snapshots.isEmpty { throw ValidationError("--all and snapshot names exclude each other") }
    }

    func run() throws {
        let source = try Repository.open(fromRepo, access: RepositoryAccess(password: PasswordSource.given(file: fromPasswordFile)))
        let destination = try repository.open(create: true, encrypt: encryption.encrypt)
        var entries: [CatalogEntry]
        if snapshots.isEmpty {
            let scan = try source.catalog.scan()
            for damaged in scan.damaged { log.warning("\(damaged): not copied; run 'velo verify --all' on \(source.root)") }
            entries = scan.entries.filter(filter.filter().matches)
        } else {
            entries = try snapshots.map { name in
                guard let entry = try SelectedSnapshot.resolve(name, repository: source, filter: filter.filter()).catalogEntry else {
                    throw VeloError("\(name): not a snapshot of \(source.root)", kind: .usage)
                }
                return entry
            }
        }
        let report = try SnapshotCopy.run(from: source, to: destination, entries: entries, progress: TerminalProgress("copy"))
        if output.json {
            try Output.json(report)
            return
        }
        for copied in report.copied {
            print(
                "\(SnapshotID.short(copied.id)) \(copied.time) \(copied.source): copied (\(copied.objects) objects, \(Output.bytes(copied.bytes)))"
            )
        }
        for id in report.skipped { print("\(SnapshotID.short(id)): already in \(report.to)") }
        print(
            "\(report.copied.count) copied, \(report.skipped.count) already there, \(report.objects) objects (\(Output.bytes(report.bytes))) stored, \(report.piecesShared) pieces shared, \(String(format: "%.1f", report.seconds)) s"
        )
    }
}
