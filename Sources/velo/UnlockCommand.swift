import ArgumentParser
import VeloKit

struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Break a repository lock left by a velo process that is gone.",
        discussion: """
            A lock of this host is stale when its process is gone; one of another host when neither it nor its \
            heartbeat (rewritten every 5 minutes while held) changed for 30 minutes (VELO_LOCK_STALE_AFTER). \
            Writers take a stale lock over by themselves; unlock removes it now.
            """)

    @OptionGroup var repository: RepositoryOption

    @Flag(name: .long, help: "Break the lock even if its owner seems alive (its process runs, or its heartbeat is recent).")
    var force = false

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        var repository: String
        /// The owner of the writers' lock that was removed, or nil when there was none.
        var removed: String?
        /// The owner of the rounds' lock (`velo run`) that was removed, or nil when there was none.
        var removedRound: String?
    }

    func run() throws {
        let repo = try repository.open()
        let owner = try repo.unlock(force: force)
        let round = try repo.unlock(.roundLock, force: force)
        if output.json {
            return try Output.json(Report(repository: repo.root, removed: owner?.summary, removedRound: round?.summary))
        }
        if owner == nil && round == nil { return print("\(repo.root): not locked") }
        if let owner { print("\(repo.root): removed the lock of \(owner.summary)") }
        if let round { print("\(repo.root): removed the round lock of \(round.summary)") }
    }
}
