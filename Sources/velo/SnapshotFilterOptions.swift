import ArgumentParser
import VeloKit

/// `--tag T` and `--source PATH`: which snapshots `latest` may stand for (restic's `latest --tag --path`), on
/// every command that takes a snapshot name. `latest` is then the newest snapshot that matches them all.
struct SnapshotFilterOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "With 'latest': the newest snapshot carrying this tag (repeatable: all must match), e.g. tenant:acme.", valueName: "tag"))
    var tag: [String] = []

    @Option(
        name: .long, help: ArgumentHelp("With 'latest': the newest snapshot of this database file.", valueName: "path"), completion: .file()
    )
    var source: String?

    /// The filter, with a tenant when the command has one (`--tenant`).
    func filter(tenant: String? = nil) -> SnapshotFilter {
        SnapshotFilter(tenant: tenant, tags: tag, source: source)
    }
}
