import ArgumentParser
import VeloKit

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Read every byte of snapshots and check them against their checksums and manifests.",
        discussion: """
            Checks the archive's SHA-256 against the catalog, the zstd frames, the tar structure, every entry's SHA-256, size and row count against the manifest, and parses every row. The result is recorded in the catalog. A lone archive file is checked against its own manifest. Exit status: 0 when every snapshot is sound, 3 when damage was found.
            """)

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var filter: SnapshotFilterOptions

    @Argument(help: ArgumentHelp("Snapshots: ids, id prefixes, 'latest' or archive paths (default: latest).", valueName: "snapshot"))
    var snapshots: [String] = []

    @Flag(name: .long, help: "Verify every snapshot in the repository (with --tag or --source, every one that matches).")
    var all = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read only part of the data of incremental snapshots: n/t (group n of t, e.g. 1/7 on each day of a week), x% (at random) or a size such as 500M; the rest is trusted from the manifests and nothing sound is recorded.",
            valueName: "subset"))
    var readSubset: String?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let readSubset {
            do { _ = try ReadSubset(readSubset) } catch let error as VeloError { throw ValidationError(error.message) }
        }
    }

    func run() throws {
        let repo = try repository.openIfGiven()
        var selected: [SelectedSnapshot] = []
        var reports: [Verifier.Report] = []
        if all {
            guard let repo else { throw VeloError("--all needs a repository: pass --repo DIR or set VELO_REPO") }
            // Unreadable entries are damage found, reported even when the recovery below rebuilds them.
            reports = try repo.catalog.scan().damaged.map(Verifier.report(for:))
            // The repository's recovery runs first (under its lock, released at once): a sound archive whose
            // catalog entry is missing or unreadable is catalogued again from the archive, so that --all checks
            // every snapshot the repository holds. A repository that cannot be locked (read-only) is read as is.
            if let lock = try? repo.lock(command: "velo verify", wait: max(.seconds(60), repo.lockWait)) { lock.release() }
            let catalog = try repo.catalog.scan()
            selected = catalog.entries.filter(filter.filter().matches).map { .catalogued($0, repository: repo) }
            if !output.json {
                for report in reports { print("\(report.id.map(SnapshotID.short) ?? report.archive): DAMAGED\n  \(report.problems[0])") }
            }
        } else {
            selected = try (snapshots.isEmpty ? ["latest"] : snapshots).map {
                try SelectedSnapshot.resolve($0, repository: repo, filter: filter.filter(), password: repository.password)
            }
        }
        // Each shared piece of incremental snapshots is read once; with a subset, only the lists in it.
        let verifiedParts = VerifiedParts(subset: try readSubset.map(ReadSubset.init))
        for snapshot in selected {
            let report = try Verifier.verify(
                snapshot, verifiedParts: verifiedParts,
                progress: TerminalProgress("verify \(snapshot.id.map(SnapshotID.short) ?? "archive")"))
            reports.append(report)
            if !output.json {
                let name = report.id.map(SnapshotID.short) ?? report.archive
                if report.ok, let subset = report.readSubset {
                    print(
                        "\(name): ok in subset \(subset) (\(Output.grouped(report.rows)) rows read, \(Output.bytes(report.bytesNotRead ?? 0)) of data outside it not read)"
                    )
                } else if report.ok {
                    print("\(name): ok (\(report.entries) entries, \(Output.grouped(report.rows)) rows, \(Output.bytes(report.bytes)))")
                } else {
                    print("\(name): DAMAGED")
                    for problem in report.problems { print("  \(problem)") }
                }
            }
        }
        if output.json { try Output.json(reports) }
        if reports.contains(where: { !$0.ok }) { throw ExitStatus.foundDamage }
    }
}
